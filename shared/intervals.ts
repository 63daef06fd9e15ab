/**
 * The candle intervals (docs/design.md §8), apart from shared/candles.ts and free of imports, so
 * the web page bundles them without zod.
 */
export const INTERVALS = ["1m", "5m", "15m", "1h", "4h", "1d"] as const;
export type Interval = typeof INTERVALS[number];

const MINUTE_MS = 60_000;
/** Each interval's length; every interval starts at a multiple of it since the epoch (UTC). */
export const INTERVAL_MS: Readonly<Record<Interval, number>> = {
  "1m": MINUTE_MS,
  "5m": 5 * MINUTE_MS,
  "15m": 15 * MINUTE_MS,
  "1h": 60 * MINUTE_MS,
  "4h": 240 * MINUTE_MS,
  "1d": 1440 * MINUTE_MS,
};

export function isInterval(value: unknown): value is Interval {
  return typeof value === "string" && (INTERVALS as readonly string[]).includes(value);
}

/** The start of the interval that holds `ms`. */
export function intervalStart(ms: number, interval: Interval): number {
  const length = INTERVAL_MS[interval];
  return ms - (((ms % length) + length) % length);
}
