/**
 * What the cross-process tests (tests/) and the benchmarks (bench/) share: a private Redis
 * database (or a private Redis Cluster) and a fresh Postgres database per run, the real processes
 * spawned and waited on by their ready lines, waiting helpers, and a small HTTP client.
 */
export { eventually, freePort, sleep } from "./wait.ts";
export {
  Env,
  type EnvOptions,
  GENEROUS_LIMITS,
  JWT_SECRET,
  type LogRecord,
  logRecords,
  type Proc,
  readyRecord,
} from "./env.ts";
export { http, type HttpResult, newUser, waitForPrices } from "./http.ts";
export {
  parseClusterNodes,
  RedisClusterError,
  type RedisClusterHandle,
  startRedisCluster,
} from "./redis_cluster.ts";
