/**
 * The engine process: takes the lease, loads the newest valid snapshot, replays the input
 * stream after it (outputs already written before a crash are suppressed), then applies entries
 * live, snapshotting every SNAPSHOT_INTERVAL_MS and trimming what recovery no longer needs.
 */
import { EXIT_FATAL, startProcess } from "@trading/shared/process";
import { connectPostgres, migrate } from "@trading/shared/db";
import { Registry, serveMetrics } from "@trading/shared/metrics";
import { connectRedis, ENGINE_STATUS_KEY, INPUT_STREAM } from "@trading/shared/redis";
import { encodeInput } from "@trading/shared/schemas";
import { configureEntryFor } from "./core/configure.ts";
import { DEFAULT_PARAMS } from "./core/state.ts";
import { closeOf, HistoryWriter } from "./io/history.ts";
import { EngineLease } from "./io/lock.ts";
import { EngineLoop, lastOutputCause } from "./io/loop.ts";
import { assertNoGap, loadStartingState, StreamGapError } from "./io/recovery.ts";
import { Snapshotter } from "./io/snapshotter.ts";
import { SnapshotStore } from "./io/snapshots.ts";
import { trimInput, trimOutput } from "./io/trim.ts";

const { config, log, databaseUrl } = startProcess("engine", { needsDatabase: true });

const redis = connectRedis(config.redisUrl, { name: "engine", autoPipeline: true, log });
const reader = connectRedis(config.redisUrl, { name: "engine-reader", log });
const historyReader = connectRedis(config.redisUrl, { name: "engine-history", log });
const sql = connectPostgres(databaseUrl, { max: 4 });
await migrate(sql);

const lease = new EngineLease(redis, `${Deno.hostname()}:${Deno.pid}`, log);
await lease.acquire();
// Called only when the lease cannot safely be ours again (lock.ts says when it takes it back):
// another engine may have written, so this one stops and recovers on its restart.
lease.keep((reason) => {
  log.error(`${reason}; exiting`);
  Deno.exit(1);
});

const store = new SnapshotStore(sql, log);
const params = {
  ...DEFAULT_PARAMS,
  mmrBps: config.mmrBps,
  priceMaxAgeMs: config.priceMaxAgeMs,
  maxOpenPositions: config.maxOpenPositions,
  maxPendingOrders: config.maxPendingOrders,
};
const { state } = await loadStartingState(store, log);
try {
  await assertNoGap(redis, state.lastId);
} catch (error) {
  if (!(error instanceof StreamGapError)) throw error;
  log.error(error.message);
  await lease.release();
  Deno.exit(EXIT_FATAL);
}
const suppressThroughId = await lastOutputCause(redis);
log.info("engine starting", { fromId: state.lastId, suppressThroughId });

const snapshotter = new Snapshotter(state, store, log, config.snapshotIntervalMs, async (saved) => {
  const kept = await store.list();
  const oldest = kept.at(-1)?.lastId ?? saved.lastId;
  const [inputTrimmed, outputTrimmed] = await Promise.all([
    trimInput(redis, oldest),
    trimOutput(redis, Date.now()),
  ]);
  if (inputTrimmed + outputTrimmed > 0) {
    log.debug("trimmed", { inputTrimmed, outputTrimmed, oldest });
  }
  reportStatus();
});
const history = new HistoryWriter({ reader: historyReader, sql, log });
const loop = new EngineLoop({
  redis,
  reader,
  state,
  log,
  suppressThroughId,
  onBatch: (_entries, outputs) => {
    snapshotter.maybeStart(Date.now());
    // Outputs are written by now: the history writer reads them at once.
    if (outputs.some((output) => closeOf(output) !== undefined)) history.notify();
  },
});
await loop.catchUp();
// A configuration that differs from the stream's parameters goes into the stream, after all
// that was there: replays change them at the same place (core/configure.ts).
const reconfigure = configureEntryFor(state.params, params);
if (reconfigure !== undefined) {
  await redis.xadd(INPUT_STREAM, "*", ...Object.entries(encodeInput(reconfigure)).flat());
  await loop.catchUp();
  log.info("parameters changed", { ...reconfigure, atId: state.lastId });
}
log.info("serving", { lastId: state.lastId, startupMs: Math.round(performance.now()) });
loop.start();
await history.start();

function reportStatus() {
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
reportStatus();
const status = setInterval(reportStatus, 1000);

const metrics = new Registry();
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
    lagEntries = (await redis.xrange(INPUT_STREAM, `(${state.lastId}`, "+", "COUNT", 1_001)).length;
  } catch {
    // Redis down: the lag is unknown; keep the last value
  }
}, 1000);
const metricsServer = serveMetrics(
  metrics,
  config.engineMetricsPort,
  (error) => log.warn("cannot serve /metrics", { port: config.engineMetricsPort, error }),
  config.metricsHost,
);

let stopping = false;
async function shutdown(signal: string) {
  // Ctrl-C reaches us twice (the terminal's SIGINT, then the supervisor's SIGTERM): stop once.
  if (stopping) return;
  stopping = true;
  log.info("engine stopping", { signal, lastId: state.lastId });
  clearInterval(status);
  clearInterval(lagTimer);
  await metricsServer?.shutdown();
  await loop.stop();
  await snapshotter.settle();
  await history.stop();
  await lease.release();
  redis.disconnect();
  reader.disconnect();
  historyReader.disconnect();
  await sql.end({ timeout: 2 });
  Deno.exit(0);
}
Deno.addSignalListener("SIGINT", () => shutdown("SIGINT"));
Deno.addSignalListener("SIGTERM", () => shutdown("SIGTERM"));
