/**
 * Token buckets per key (a user, an IP, an email), in memory, pure: the clock is passed in.
 *
 * A bucket holds at most `burst` tokens and refills at `perSecond`; each call takes one. A
 * bucket is stored as a single number, the time at which it will be full again (GCRA's
 * "theoretical arrival time": the same limiter as a token count plus a last-update time, in
 * less memory, with no refill arithmetic on the hot path). A bucket full again is the
 * same as no entry, so forgetting it is harmless.
 *
 * Memory is bounded: at most `maxKeys` entries, and at the cap the least recently used one is
 * forgotten, one at a time, never the whole map (clearing it would hand every caller, an
 * attacker included, a full bucket again). The least recently used bucket is the one most
 * likely full already: an emptied one is forgotten only after `maxKeys` other keys were used
 * since its own last call. A refused call counts as use, so a caller hammering a key keeps its
 * empty bucket remembered.
 */
/**
 * Keys a limiter remembers by default. Measured: ~110 bytes an entry keyed by a user id (so
 * ~11 MB at the cap), ~90 with an IPv4 key, up to ~330 with an IP and a 254-character email.
 */
export const DEFAULT_MAX_KEYS = 100_000;

export interface BucketOptions {
  /** Tokens added per second (may be fractional: 10 a minute is 1/6). */
  perSecond: number;
  /** Capacity: calls allowed back to back after a quiet spell. */
  burst: number;
  /** Entries kept at most; about 100 bytes each with a short key. */
  maxKeys: number;
}

export class TokenBuckets {
  /** Key → time (ms) at which its bucket is full again. Map order is recency of use. */
  readonly #fullAtMs = new Map<string, number>();
  readonly #msPerToken: number;
  /** How far in the future `fullAt` may be while a token is still left: burst - 1 tokens. */
  readonly #slackMs: number;
  readonly maxKeys: number;

  constructor(options: BucketOptions) {
    if (!(options.perSecond > 0) || !(options.burst >= 1) || !(options.maxKeys >= 1)) {
      throw new RangeError("perSecond > 0, burst >= 1 and maxKeys >= 1 are required");
    }
    this.#msPerToken = 1000 / options.perSecond;
    this.#slackMs = (Math.floor(options.burst) - 1) * this.#msPerToken;
    this.maxKeys = options.maxKeys;
  }

  /** Takes a token for `key`: 0 when allowed, else the milliseconds until one is available. */
  take(key: string, nowMs: number): number {
    const known = this.#fullAtMs.get(key);
    // Clamped to "empty now": a clock stepping back costs a caller at most one token's wait.
    const fullAtMs = known === undefined || known < nowMs
      ? nowMs
      : Math.min(known, nowMs + this.#slackMs + this.#msPerToken);
    const waitMs = fullAtMs - nowMs - this.#slackMs;
    if (known !== undefined) this.#fullAtMs.delete(key); // re-inserted below: most recent
    else if (this.#fullAtMs.size >= this.maxKeys) this.#evictOldest();
    if (waitMs > 0) {
      this.#fullAtMs.set(key, fullAtMs);
      return waitMs;
    }
    this.#fullAtMs.set(key, fullAtMs + this.#msPerToken);
    return 0;
  }

  /** Entries held now (for tests and metrics). */
  get size(): number {
    return this.#fullAtMs.size;
  }

  #evictOldest(): void {
    const oldest = this.#fullAtMs.keys().next();
    if (!oldest.done) this.#fullAtMs.delete(oldest.value);
  }
}

/** Whole seconds for a `Retry-After` header: at least 1, rounded up. */
export function retryAfterSeconds(waitMs: number): number {
  return Math.max(1, Math.ceil(waitMs / 1000));
}
