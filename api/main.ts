/**
 * The API process: Hono on Deno.serve at BIND_HOST, users in Postgres, instructions through
 * Redis, and `/metrics` on its own port at METRICS_HOST (never on the public one).
 */
import { onShutdown, startProcess } from "@trading/shared/process";
import { Registry, serveMetrics } from "@trading/shared/metrics";
import { connectPostgres, migrate } from "@trading/shared/db";
import { connectRedis, ENGINE_STATUS_KEY, redisTargetOf } from "@trading/shared/redis";
import { redisReady, withTimeout } from "@trading/shared/wait";
import { buildApp } from "./app.ts";
import { argon2id } from "./auth/passwords.ts";
import { ApiIdTakenError, claimApiId } from "./api_id_claim.ts";
import { EngineClient } from "./engine_client.ts";
import { postgresCandles } from "./stores/candles.ts";
import { postgresHistory } from "./stores/history.ts";
import { postgresUsers } from "./stores/users.ts";

const { config, log, databaseUrl, jwtSecret } = startProcess("api", {
  needsDatabase: true,
  needsJwtSecret: true,
});

// Commands fail at once while Redis is down (503 quickly); the reader waits and reconnects.
const redis = connectRedis(redisTargetOf(config), {
  name: "api",
  failFast: true,
  autoPipeline: true,
  log,
});
const reader = connectRedis(redisTargetOf(config), { name: "api-reader", log });
const sql = connectPostgres(databaseUrl);
await redisReady(redis);
await migrate(sql);

// Where the engine answers this process: its own reply stream, under an id no other live
// process holds (api_id_claim.ts): made here unless API_ID sets it.
const apiId = config.apiId ?? `api-${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
let claim;
try {
  claim = await claimApiId(redis, apiId, {
    log,
    // Another process under this id reads and trims our answers: stop rather than lose them.
    onLost: () => Deno.exit(1),
  });
} catch (error) {
  if (!(error instanceof ApiIdTakenError)) throw error;
  log.error(error.message, { apiId });
  Deno.exit(1);
}
const engine = new EngineClient({
  redis,
  reader,
  apiId,
  log,
  newRequestId: () => crypto.randomUUID(),
  timeoutMs: config.engineTimeoutMs,
});
await engine.start();

const metrics = new Registry();
const app = buildApp({
  engine,
  metrics,
  tradeRate: config.tradeRate,
  userRate: config.userRate,
  signupsPerMinute: config.signupsPerMinute,
  trustedProxies: config.trustedProxies,
  users: postgresUsers(sql),
  history: postgresHistory(sql),
  candles: postgresCandles(sql),
  passwords: argon2id,
  jwtSecret,
  corsOrigins: config.corsOrigins,
  log,
  health: async () => {
    const [redisOk, postgresOk, status] = await Promise.all([
      withTimeout(redis.ping().then(() => true, () => false), 1000, false),
      withTimeout(sql`SELECT 1`.then(() => true, () => false), 1000, false),
      withTimeout(redis.hgetall(ENGINE_STATUS_KEY).catch(() => ({})), 1000, {}),
    ]) as [boolean, boolean, Record<string, string>];
    const fresh = Date.now() - Number(status.updatedAtMs ?? 0) < 5000;
    return {
      redis: redisOk,
      postgres: postgresOk,
      engine: redisOk && fresh,
      ...(status.lastId ? { engineLastId: status.lastId } : {}),
      ...(status.stateHash ? { stateHash: status.stateHash, stateHashId: status.stateHashId } : {}),
    };
  },
});

const server = Deno.serve({
  port: config.apiPort,
  hostname: config.bindHost,
  onListen: ({ hostname, port }) =>
    log.info("api listening", { ready: true, hostname, port, apiId }),
}, app.fetch);
const metricsServer = serveMetrics(
  metrics,
  config.apiMetricsPort,
  (error) => log.warn("cannot serve /metrics", { port: config.apiMetricsPort, error }),
  config.metricsHost,
);

onShutdown(log, "api", [
  ["http servers", () => Promise.all([server.shutdown(), metricsServer?.shutdown()])],
  ["engine client", () => engine.stop()],
  ["api id", () => claim.release()],
  ["redis", () => {
    redis.disconnect();
    reader.disconnect();
  }],
  ["postgres", () => sql.end({ timeout: 2 })],
]);
