/**
 * The engine process, in stages: 1. take the lease; 2. recover the newest valid snapshot;
 * 3. catch up on the input stream after it (outputs already written before a crash are
 * suppressed); 4. apply entries live; 5. snapshot every SNAPSHOT_INTERVAL_MS and trim what
 * recovery no longer needs; 6. write trade history (and candles); 7. report status; 8. stop on a
 * signal.
 */
import { EXIT_FATAL, exitFatal, onShutdown, startProcess } from "@trading/shared/process";
import { connectPostgres, migrate } from "@trading/shared/db";
import { Registry, serveMetrics } from "@trading/shared/metrics";
import { connectRedis, INPUT_STREAM, redisTargetOf } from "@trading/shared/redis";
import { encodeInput } from "@trading/shared/schemas";
import { withTimeout } from "@trading/shared/wait";
import { configureEntryFor } from "./core/configure.ts";
import { DEFAULT_PARAMS } from "./core/state.ts";
import { closeOf, HistoryWriter } from "./io/history.ts";
import { CandleWriter } from "./io/candle_writer.ts";
import { EngineLease } from "./io/lock.ts";
import { moveLegacyKeys } from "./io/legacy_keys.ts";
import { EngineLoop, lastOutputCause } from "./io/loop.ts";
import {
  assertNoGap,
  type ConservationBreak,
  conservationBreak,
  loadStartingState,
  StreamGapError,
} from "./io/recovery.ts";
import { Snapshotter } from "./io/snapshotter.ts";
import { SnapshotStore } from "./io/snapshots.ts";
import { reportStatus, startStatus } from "./io/status.ts";
import { trimAfterSnapshot } from "./io/trim.ts";

const CONSERVATION_BROKEN =
  "conservation broken: balances + locked + house differ from credited; stopping";

const { config, log, databaseUrl } = startProcess("engine", { needsDatabase: true });

const redis = connectRedis(redisTargetOf(config), { name: "engine", autoPipeline: true, log });
const reader = connectRedis(redisTargetOf(config), { name: "engine-reader", log });
const historyReader = connectRedis(redisTargetOf(config), { name: "engine-history", log });
const candleReader = connectRedis(redisTargetOf(config), { name: "engine-candles", log });
const sql = connectPostgres(databaseUrl, { max: 4 });
await migrate(sql);

// 1. Lease: one engine at a time; this one waits until the lease is free.
const lease = new EngineLease(redis, `${Deno.hostname()}:${Deno.pid}`, log);
await lease.acquire();
// Called only when the lease cannot safely be ours again (lock.ts says when it takes it back):
// another engine may have written, so this one stops and recovers on its restart.
lease.keep((reason) => {
  log.error(`${reason}; exiting`);
  Deno.exit(1);
});

// 2. Recover: the newest snapshot that verifies (or an empty state); the input stream must
// still hold every entry after it, or the engine stops for good. Streams under the names of
// before the hash tag are moved first (engine/io/legacy_keys.ts).
await moveLegacyKeys(redis, log);
const store = new SnapshotStore(sql, log);
const { state } = await loadStartingState(store, log);
try {
  await assertNoGap(redis, state.lastId);
} catch (error) {
  if (!(error instanceof StreamGapError)) throw error;
  await stopForGood(error.message);
}
const suppressThroughId = await lastOutputCause(redis);
log.info("engine starting", { fromId: state.lastId, suppressThroughId });

// 3. Catch up: replay engine:input after the snapshot, then the configure entry if this
// process's parameters differ from the stream's; the money must add up before serving.
// The loop serves stages 5 and 6 from its first batch on (a snapshot may start during the
// replay, a close wakes the history writer), so their parts are built first.
const snapshotter = snapshotsAndRetention();
const history = new HistoryWriter({ reader: historyReader, sql, log });
const loop = new EngineLoop({
  redis,
  reader,
  state,
  log,
  suppressThroughId,
  replyTtlMs: config.replyTtlMs,
  onBatch: (_entries, outputs) => {
    snapshotter.maybeStart(Date.now());
    // Outputs are written by now: the history writer reads them at once.
    if (outputs.some((output) => closeOf(output) !== undefined)) history.notify();
  },
});
await loop.catchUp();
await configure();
const broken = conservationBreak(state);
if (broken !== undefined) {
  await stopForGood(CONSERVATION_BROKEN, { ...broken, found: "after catching up" });
}

// 4. Live loop: blocking reads of engine:input, each batch's outputs in one MULTI/EXEC.
log.info("serving", {
  ready: true,
  lastId: state.lastId,
  startupMs: Math.round(performance.now()),
});
loop.start();

// 5. Snapshots and retention: every SNAPSHOT_INTERVAL_MS (the loop's batches start them) the
// state goes to Postgres; a state whose money does not add up stops the engine instead; after
// each snapshot, both streams are trimmed (io/trim.ts) and the status is reported.
function snapshotsAndRetention(): Snapshotter {
  return new Snapshotter(state, store, log, config.snapshotIntervalMs, async (saved) => {
    await trimAfterSnapshot(redis, store, saved, log);
    reportStatus({ redis, state, loop, snapshotter });
  }, conservationBroken);
}

// 6. History: trades to Postgres through the output stream's consumer group.
await history.start();

// 6b. Candles: the poller's quotes to Postgres through {e0}:quotes' consumer group (§8 of
// docs/design.md); it never touches the engine's loop or state.
// Its own session: it holds the one-writer lock (engine/io/writer_lock.ts).
const candleSql = connectPostgres(databaseUrl, { max: 1 });
const candles = new CandleWriter({
  reader: candleReader,
  sql: candleSql,
  log,
  retentionDays: config.candleRetentionDays,
});
await candles.start();

// 7. Status: the status hash `/health` reads, and `/metrics` (io/status.ts).
const metrics = new Registry();
const status = startStatus({ redis, state, loop, snapshotter }, metrics);
const metricsServer = serveMetrics(
  metrics,
  config.engineMetricsPort,
  (error) => log.warn("cannot serve /metrics", { port: config.engineMetricsPort, error }),
  config.metricsHost,
);

// 8. Shutdown: on SIGINT/SIGTERM, the batch in hand and the snapshot in progress finish first.
onShutdown(log, "engine", [
  ["status", () => status.stop()],
  ["metrics server", () => metricsServer?.shutdown()],
  ["loop", () => loop.stop()],
  ["snapshot in progress", () => snapshotter.settle()],
  ["history", () => history.stop()],
  ["candles", () => candles.stop()],
  ["lease", () => lease.release()],
  ["redis", () => {
    redis.disconnect();
    reader.disconnect();
    historyReader.disconnect();
    candleReader.disconnect();
  }],
  ["postgres", () => Promise.all([sql.end({ timeout: 2 }), candleSql.end({ timeout: 2 })])],
], { fields: () => ({ lastId: state.lastId }) });

/**
 * A configuration that differs from the stream's parameters goes into the stream, after all
 * that was there: replays change them at the same place (core/configure.ts).
 */
async function configure(): Promise<void> {
  const params = {
    ...DEFAULT_PARAMS,
    mmrBps: config.mmrBps,
    feeBps: config.feeBps,
    priceMaxAgeMs: config.priceMaxAgeMs,
    maxOpenPositions: config.maxOpenPositions,
    maxPendingOrders: config.maxPendingOrders,
  };
  const reconfigure = configureEntryFor(state.params, params);
  if (reconfigure === undefined) return;
  await redis.xadd(INPUT_STREAM, "*", ...Object.entries(encodeInput(reconfigure)).flat());
  await loop.catchUp();
  log.info("parameters changed", { ...reconfigure, atId: state.lastId });
}

/**
 * Before the live loop runs: nothing of this engine is writing, so the lease is given back
 * first, then EXIT_FATAL (a restart cannot fix it; the supervisor does not restart it).
 */
async function stopForGood(message: string, fields?: Record<string, unknown>): Promise<never> {
  log.error(message, fields);
  await withTimeout(lease.release(), 2_000, undefined);
  Deno.exit(EXIT_FATAL);
}

/**
 * From a snapshot, while the loop may be writing: exit at once, so nothing more is written; the
 * lease is not given back (another engine would start beside this one's last write), it lapses.
 */
function conservationBroken(broken: ConservationBreak): never {
  exitFatal(log, CONSERVATION_BROKEN, { ...broken, found: "at a snapshot" });
}
