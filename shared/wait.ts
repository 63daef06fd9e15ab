/** Small async helpers for processes (not for the engine core). */
import type { Cluster, Redis } from "ioredis";

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface BackoffOptions {
  /** The delay at attempt 0, doubled with each attempt after it. */
  baseMs: number;
  /** The delay never grows past this. */
  maxMs: number;
  /**
   * Full jitter: the delay is a uniform draw below the ceiling, so many clients that failed
   * together do not retry together. Pass `Math.random`, or a seeded generator in tests.
   */
  random?: () => number;
}

/** Doublings past this change nothing for any sensible `maxMs` and keep `2 **` finite. */
const MAX_DOUBLINGS = 16;

/** Exponential backoff: the delay before retry number `attempt` (0 for the first). */
export function backoffMs(attempt: number, options: BackoffOptions): number {
  const ceilingMs = Math.min(
    options.maxMs,
    options.baseMs * 2 ** Math.min(attempt, MAX_DOUBLINGS),
  );
  return options.random === undefined ? ceilingMs : Math.floor(options.random() * ceilingMs);
}

/** Resolves with `fallback` if the promise takes longer than `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<T>((resolve) => timer = setTimeout(() => resolve(fallback), ms));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until an ioredis connection is ready (it reconnects by itself meanwhile). */
export function redisReady(redis: Redis | Cluster): Promise<void> {
  if (redis.status === "ready") return Promise.resolve();
  return new Promise((resolve) => redis.once("ready", () => resolve()));
}
