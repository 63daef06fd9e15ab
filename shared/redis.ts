/**
 * Redis connections (one Redis, or Redis Cluster with `REDIS_CLUSTER_NODES`) and the keys every
 * process agrees on. Every key of one engine carries its hash tag, so they all live in one
 * cluster slot: the engine's MULTI/EXEC, which writes several streams, stays on one node, and
 * one XREAD can follow several streams (docs/design.md §1).
 */
import { Cluster, Redis } from "ioredis";
import type { Logger } from "./log.ts";
import { backoffMs } from "./wait.ts";

/** The hash tag of the engine's keys (one engine; a sharded future would have one per shard). */
export const ENGINE_TAG = "{e0}";
/** Instructions and quotes: the one ordered stream. */
export const INPUT_STREAM = `${ENGINE_TAG}:input`;
/** Order events (opened, closed): what gateways push and the history writer records. */
export const OUTPUT_STREAM = `${ENGINE_TAG}:output`;
/** Each asset's latest quote per engine batch: for gateways and for the APIs' quotes. */
export const PRICES_STREAM = `${ENGINE_TAG}:prices`;
/**
 * Every quote the poller puts on the input stream, again (same MULTI), and a day of exchange
 * candles at its start: what the candle writer reads. The engine never reads it.
 */
export const QUOTES_STREAM = `${ENGINE_TAG}:quotes`;
/**
 * The poller's hard cap on `{e0}:quotes` (XADD MAXLEN ~): a dead candle writer costs Redis at
 * most this many entries (hours of quotes); what it never read is then a gap in the candles.
 */
export const QUOTES_MAXLEN = 500_000;
/** The candles the candle writer changed, one entry per batch: what gateways push. */
export const CANDLES_STREAM = `${ENGINE_TAG}:candles`;
/** Readers of `{e0}:candles` want the latest; the writer caps it as it writes. */
export const CANDLES_MAXLEN = 1_000;
/** Hash the engine refreshes every second: last applied ID, state hash, time. */
export const ENGINE_STATUS_KEY = `${ENGINE_TAG}:status`;
/** The cause (input ID) of the newest batch whose outputs were written, set in the same EXEC. */
export const WRITTEN_KEY = `${ENGINE_TAG}:written`;
/** The engine's lease, and how many times it was taken. */
export const ENGINE_LOCK_KEY = `${ENGINE_TAG}:lock`;
export const ENGINE_LOCK_EPOCH_KEY = `${ENGINE_TAG}:lock:epoch`;

/** Where the engine writes the answers to one API process's requests (its `API_ID`). */
export function replyStream(apiId: string): string {
  return `${ENGINE_TAG}:reply:${apiId}`;
}

/** Held by the live API process of this `API_ID` (api/api_id_claim.ts): one process per id. */
export function apiIdClaimKey(apiId: string): string {
  return `${ENGINE_TAG}:api:${apiId}`;
}

/** The keys the engine used before they carried a hash tag (moved once at start). */
export const LEGACY_KEYS = {
  input: "engine:input",
  output: "engine:output",
} as const;

export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

/** A connection to one Redis or to a Redis Cluster: both speak the same commands. */
export type RedisClient = Redis | Cluster;

/** Where Redis is: a URL, or a cluster's seed nodes (which win when present). */
export interface RedisTarget {
  url?: string | undefined;
  clusterNodes?: ReadonlyArray<{ host: string; port: number }> | undefined;
}

/** The target a process's configuration names. */
export function redisTargetOf(
  config: { redisUrl: string | undefined; redisClusterNodes?: RedisTarget["clusterNodes"] },
): RedisTarget {
  return { url: config.redisUrl, clusterNodes: config.redisClusterNodes };
}

export interface RedisOptions {
  /** Name shown in CLIENT LIST, to tell connections apart. */
  name: string;
  /** Fail commands at once while disconnected instead of queueing them (for quick 503s). */
  failFast?: boolean;
  /** Batch commands of the same tick into one write (command connections only). */
  autoPipeline?: boolean;
  /** Where to say that the connection went down and came back (once each). */
  log?: Logger;
}

/**
 * A connection that reconnects forever with capped backoff. Blocking readers must each get
 * their own: a blocking XREAD freezes every other command on its connection (on a cluster, on
 * its connection to that node).
 */
export function connectRedis(
  target: RedisTarget | string | undefined,
  options: RedisOptions,
): RedisClient {
  const { url, clusterNodes } = typeof target === "object" ? target : { url: target };
  const retryStrategy = (attempt: number) => backoffMs(attempt, { baseMs: 50, maxMs: 1000 });
  const nodeOptions = {
    connectionName: options.name,
    lazyConnect: false,
    maxRetriesPerRequest: options.failFast ? 0 : null,
    enableOfflineQueue: !options.failFast,
    retryStrategy,
    reconnectOnError: () => true,
    // A Redis loading its AOF after a restart says how long it expects to take, and ioredis
    // waits that long before asking again (10 s and more with a few MB of streams): ask every
    // 200 ms instead, so every process is back as soon as Redis is.
    maxLoadingRetryTime: 200,
  };
  const redis: RedisClient = clusterNodes !== undefined && clusterNodes.length > 0
    ? new Cluster([...clusterNodes], {
      redisOptions: nodeOptions,
      clusterRetryStrategy: retryStrategy,
      enableOfflineQueue: !options.failFast,
      // Commands issued in the same tick go out in one write; never for a blocking reader.
      enableAutoPipelining: options.autoPipeline ?? false,
      // A moved slot or a failover is followed, not surfaced, as a reconnect is on one Redis.
      maxRedirections: 16,
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 200,
    })
    : new Redis(url ?? DEFAULT_REDIS_URL, {
      ...nodeOptions,
      // Commands issued in the same tick go out in one write; never for a blocking reader.
      enableAutoPipelining: options.autoPipeline ?? false,
    });
  // Without a listener ioredis prints every failed reconnect; say it once per outage instead.
  let down = false;
  redis.on("error", (error: Error) => {
    if (down) return;
    down = true;
    options.log?.warn("redis unavailable; reconnecting", { connection: options.name, error });
  });
  redis.on("ready", () => {
    if (down) options.log?.info("redis connection restored", { connection: options.name });
    down = false;
  });
  return redis;
}

export class WatchdogError extends Error {
  override name = "WatchdogError";
}

/**
 * A blocking read that cannot hang: after a reconnect ioredis may re-send a blocking command
 * that never returns. If the reply takes `blockMs` plus a margin, the connection is dropped and
 * re-made, and the caller retries from the same ID.
 */
export async function watchedRead<T>(
  reader: RedisClient,
  read: () => Promise<T>,
  blockMs: number,
  marginMs = 5000,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const watchdog = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reader.disconnect(true);
      reject(new WatchdogError(`blocking read gave no reply within ${blockMs + marginMs} ms`));
    }, blockMs + marginMs);
  });
  try {
    return await Promise.race([read(), watchdog]);
  } finally {
    clearTimeout(timer);
  }
}

/** Redis replies an entry as [id, [field, value, ...]]. */
export type StreamEntryReply = [string, string[]];
export type XReadReply = Array<[string, StreamEntryReply[]]> | null;
/** An entry read with `xreadBuffer` / `xrangeBuffer`: no string made for its fields. */
export type StreamEntryBytes = [Uint8Array, Uint8Array[]];

/** The ID of a stream's newest entry, or "0-0" when it is empty or missing. */
export async function lastStreamId(redis: RedisClient, stream: string): Promise<string> {
  const newest = await redis.xrevrange(stream, "+", "-", "COUNT", 1) as StreamEntryReply[];
  return newest[0]?.[0] ?? "0-0";
}
