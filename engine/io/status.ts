/**
 * What the engine tells the world about itself: the status hash `/health` reads
 * (ENGINE_STATUS_KEY: the last applied ID, the latest snapshot's state hash, ...), written at
 * start, every second and after each snapshot; and the engine's gauges on `/metrics`, with the
 * stream lag measured every second.
 */
import type { Registry } from "@trading/shared/metrics";
import { ENGINE_STATUS_KEY, INPUT_STREAM, type RedisClient } from "@trading/shared/redis";
import type { EngineState } from "../core/state.ts";
import type { EngineLoop } from "./loop.ts";
import type { Snapshotter } from "./snapshotter.ts";

export interface StatusSources {
  redis: RedisClient;
  state: EngineState;
  loop: Pick<EngineLoop, "appliedEntries">;
  snapshotter: Pick<Snapshotter, "last" | "lastSavedAtMs" | "worstStallMs">;
}

/** One write of the status hash; a failure (Redis down) is ignored: the next one comes soon. */
export function reportStatus({ redis, state, loop, snapshotter }: StatusSources): void {
  const snapshot = snapshotter.last;
  redis.hset(ENGINE_STATUS_KEY, {
    lastId: state.lastId,
    applied: loop.appliedEntries,
    updatedAtMs: Date.now(),
    pid: Deno.pid,
    stateHash: snapshot?.stateHash ?? "",
    stateHashId: snapshot?.lastId ?? "",
    worstSnapshotStallMs: snapshotter.worstStallMs,
  }).catch(() => {});
}

/**
 * Reports the status now and every second, registers the engine's gauges on `metrics`, and
 * measures the stream lag every second. Returns what stops both timers.
 */
export function startStatus(sources: StatusSources, metrics: Registry): { stop(): void } {
  const { redis, state, loop, snapshotter } = sources;
  reportStatus(sources);
  const status = setInterval(() => reportStatus(sources), 1000);

  let lagEntries = 0;
  metrics.gauge("engine_entries_applied_total", "input entries applied since start").track(() =>
    loop.appliedEntries
  );
  metrics.gauge(
    "engine_stream_lag_entries",
    "entries in engine:input not yet applied (capped at 1,001)",
  )
    .track(() => lagEntries);
  metrics.gauge("engine_snapshot_age_seconds", "time since the last snapshot was saved")
    .track(() =>
      snapshotter.lastSavedAtMs === 0 ? -1 : (Date.now() - snapshotter.lastSavedAtMs) / 1000
    );
  metrics.gauge("engine_snapshot_duration_ms", "how long the last snapshot took").track(() =>
    snapshotter.last?.totalMs ?? 0
  );
  metrics.gauge("engine_snapshot_worst_stall_ms", "longest loop stall of any snapshot").track(() =>
    snapshotter.worstStallMs
  );
  metrics.gauge("engine_open_positions", "open positions").track(() => state.positions.size);
  metrics.gauge("engine_accounts", "accounts").track(() => state.accounts.size);
  const lagTimer = setInterval(async () => {
    try {
      lagEntries =
        (await redis.xrange(INPUT_STREAM, `(${state.lastId}`, "+", "COUNT", 1_001)).length;
    } catch {
      // Redis down: the lag is unknown; keep the last value
    }
  }, 1000);

  return {
    stop() {
      clearInterval(status);
      clearInterval(lagTimer);
    },
  };
}
