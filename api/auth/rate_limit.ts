/** Fixed-window attempt counters per key (IP, email), in memory, with bounded size. */
export class RateLimiter {
  readonly #windows = new Map<string, { startMs: number; count: number }>();

  constructor(readonly limit: number, readonly windowMs: number, readonly maxKeys = 100_000) {}

  /** Counts an attempt; returns the seconds to wait when over the limit, else 0. */
  hit(key: string, nowMs: number): number {
    let window = this.#windows.get(key);
    if (window === undefined || nowMs - window.startMs >= this.windowMs) {
      if (this.#windows.size >= this.maxKeys) this.#sweep(nowMs);
      window = { startMs: nowMs, count: 0 };
      this.#windows.set(key, window);
    }
    window.count++;
    if (window.count <= this.limit) return 0;
    return Math.max(1, Math.ceil((window.startMs + this.windowMs - nowMs) / 1000));
  }

  #sweep(nowMs: number): void {
    for (const [key, window] of this.#windows) {
      if (nowMs - window.startMs >= this.windowMs) this.#windows.delete(key);
    }
    if (this.#windows.size >= this.maxKeys) this.#windows.clear();
  }
}
