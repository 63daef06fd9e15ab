/** Redis connections and the stream names every process agrees on. */
import { Redis } from "ioredis";
import type { Logger } from "./log.ts";
import { backoffMs } from "./wait.ts";

export const INPUT_STREAM = "engine:input";
export const OUTPUT_STREAM = "engine:output";
/** Hash the engine refreshes every second: last applied ID, state hash, time. */
export const ENGINE_STATUS_KEY = "engine:status";

export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

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
 * their own: a blocking XREAD freezes every other command on its connection.
 */
export function connectRedis(url: string | undefined, options: RedisOptions): Redis {
  const redis = new Redis(url ?? DEFAULT_REDIS_URL, {
    connectionName: options.name,
    lazyConnect: false,
    maxRetriesPerRequest: options.failFast ? 0 : null,
    // Commands issued in the same tick go out in one write; never for a blocking reader.
    enableAutoPipelining: options.autoPipeline ?? false,
    enableOfflineQueue: !options.failFast,
    retryStrategy: (attempt: number) => backoffMs(attempt, { baseMs: 50, maxMs: 1000 }),
    reconnectOnError: () => true,
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
  reader: Redis,
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
export async function lastStreamId(redis: Redis, stream: string): Promise<string> {
  const newest = await redis.xrevrange(stream, "+", "-", "COUNT", 1) as StreamEntryReply[];
  return newest[0]?.[0] ?? "0-0";
}
