/**
 * The engine process: takes the lease, rebuilds its state from the input stream (outputs
 * already written before a restart are suppressed), then applies entries live.
 */
import { ConfigError, loadConfig } from "@trading/shared/config";
import { connectPostgres, migrate } from "@trading/shared/db";
import { createLogger } from "@trading/shared/log";
import { connectRedis, ENGINE_STATUS_KEY } from "@trading/shared/redis";
import { createState, DEFAULT_PARAMS } from "./core/state.ts";
import { HistoryWriter } from "./io/history.ts";
import { EngineLease } from "./io/lock.ts";
import { EngineLoop, lastOutputCause } from "./io/loop.ts";

let config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  Deno.exit(2);
}
const log = createLogger("engine", config.logLevel);
if (config.databaseUrl === undefined) {
  log.error("DATABASE_URL is required (deno task start provides one)");
  Deno.exit(2);
}

const redis = connectRedis(config.redisUrl, { name: "engine" });
const reader = connectRedis(config.redisUrl, { name: "engine-reader" });
const historyReader = connectRedis(config.redisUrl, { name: "engine-history" });
const sql = connectPostgres(config.databaseUrl, { max: 4 });
await migrate(sql);

const lease = new EngineLease(redis, `${Deno.hostname()}:${Deno.pid}`, log);
await lease.acquire();
lease.keep(() => {
  log.error("engine lease lost to another engine; exiting");
  Deno.exit(1);
});

const state = createState({
  ...DEFAULT_PARAMS,
  mmrBps: config.mmrBps,
  priceMaxAgeMs: config.priceMaxAgeMs,
});
const suppressThroughId = await lastOutputCause(redis);
log.info("engine starting", { suppressThroughId, mmrBps: config.mmrBps });

const loop = new EngineLoop({ redis, reader, state, log, suppressThroughId });
loop.start();
const history = new HistoryWriter({ reader: historyReader, sql, log });
await history.start();

const reportStatus = () =>
  redis.hset(ENGINE_STATUS_KEY, {
    lastId: state.lastId,
    applied: loop.appliedEntries,
    updatedAtMs: Date.now(),
    pid: Deno.pid,
  }).catch(() => {});
reportStatus();
const status = setInterval(reportStatus, 1000);

async function shutdown(signal: string) {
  log.info("engine stopping", { signal, lastId: state.lastId });
  clearInterval(status);
  await loop.stop();
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
