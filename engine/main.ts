/**
 * The engine process: takes the lease, loads the newest valid snapshot, replays the input
 * stream after it (outputs already written before a crash are suppressed), then applies entries
 * live, snapshotting every SNAPSHOT_INTERVAL_MS and trimming what recovery no longer needs.
 */
import { startProcess } from "@trading/shared/process";
import { connectPostgres, migrate } from "@trading/shared/db";
import { connectRedis, ENGINE_STATUS_KEY } from "@trading/shared/redis";
import { DEFAULT_PARAMS } from "./core/state.ts";
import { HistoryWriter } from "./io/history.ts";
import { EngineLease } from "./io/lock.ts";
import { EngineLoop, lastOutputCause } from "./io/loop.ts";
import { assertNoGap, loadStartingState, StreamGapError } from "./io/recovery.ts";
import { Snapshotter } from "./io/snapshotter.ts";
import { SnapshotStore } from "./io/snapshots.ts";
import { trimInput, trimOutput } from "./io/trim.ts";

/** Exit code for a failure a restart cannot fix (the supervisor does not retry it). */
export const EXIT_FATAL = 3;

const { config, log, databaseUrl } = startProcess("engine", { needsDatabase: true });

const redis = connectRedis(config.redisUrl, { name: "engine", autoPipeline: true, log });
const reader = connectRedis(config.redisUrl, { name: "engine-reader", log });
const historyReader = connectRedis(config.redisUrl, { name: "engine-history", log });
const sql = connectPostgres(databaseUrl, { max: 4 });
await migrate(sql);

const lease = new EngineLease(redis, `${Deno.hostname()}:${Deno.pid}`, log);
await lease.acquire();
lease.keep(() => {
  log.error("engine lease lost to another engine; exiting");
  Deno.exit(1);
});

const store = new SnapshotStore(sql, log);
const params = { ...DEFAULT_PARAMS, mmrBps: config.mmrBps, priceMaxAgeMs: config.priceMaxAgeMs };
const { state } = await loadStartingState(store, params, log);
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
    trimOutput(redis),
  ]);
  if (inputTrimmed + outputTrimmed > 0) {
    log.debug("trimmed", { inputTrimmed, outputTrimmed, oldest });
  }
  reportStatus();
});
const loop = new EngineLoop({
  redis,
  reader,
  state,
  log,
  suppressThroughId,
  onBatch: () => snapshotter.maybeStart(Date.now()),
});
await loop.catchUp();
log.info("serving", { lastId: state.lastId, startupMs: Math.round(performance.now()) });
loop.start();
const history = new HistoryWriter({ reader: historyReader, sql, log });
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

async function shutdown(signal: string) {
  log.info("engine stopping", { signal, lastId: state.lastId });
  clearInterval(status);
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
