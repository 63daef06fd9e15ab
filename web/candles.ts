/**
 * The chart's candles, pure: the intervals, a candle's start, candles from the API's text
 * (`GET /candles` and the `candles.<ASSET>.<interval>` channel) as integer price units, and a
 * live update merged into the loaded history. No DOM here: chart.ts draws.
 */
import type { Asset } from "@trading/shared/assets";
import type { Candle as SharedCandle } from "@trading/shared/candles";
import {
  type Interval,
  INTERVAL_MS,
  INTERVALS,
  intervalStart,
  isInterval,
} from "@trading/shared/intervals";
import { priceUnits } from "./format.ts";

// From shared/intervals.ts, not shared/candles.ts: that one would bundle zod into the page.
export { type Interval, INTERVAL_MS, INTERVALS, intervalStart, isInterval };

/** What the page asks of `GET /candles`, and the most it keeps (live candles append). */
export const HISTORY_CANDLES = 500;
export const MAX_CANDLES = 1000;

/** The WebSocket channel of an asset's candles at an interval. */
export function candleChannel(asset: Asset, interval: Interval): string {
  return `candles.${asset}.${interval}`;
}

/** A candle of the bid in the asset's integer price units; `t` its start, `n` quotes in it. */
export type Candle = Omit<SharedCandle, "asset" | "interval">;

/**
 * A candle from the API's fields, or undefined when they do not make one: prices that are not
 * decimals at the asset's scale, a start that is not the interval's, high below low, or an open
 * or close outside them. A bad candle is dropped, never drawn.
 */
export function parseCandle(
  asset: Asset,
  interval: Interval,
  fields: Record<string, unknown>,
): Candle | undefined {
  const { t, n } = fields;
  if (typeof t !== "number" || !Number.isSafeInteger(t) || intervalStart(t, interval) !== t) {
    return undefined;
  }
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 1) return undefined;
  try {
    const [o, h, l, c] = (["o", "h", "l", "c"] as const).map((k) =>
      priceUnits(asset, String(fields[k]))
    ) as [bigint, bigint, bigint, bigint];
    const within = (p: bigint) => l <= p && p <= h;
    if (l <= 0n || !within(o) || !within(c)) return undefined;
    return { t, o, h, l, c, n };
  } catch {
    return undefined;
  }
}

/**
 * Candles from the API's list (`GET /candles`, oldest first), each checked by `parseCandle`:
 * a bad one is left out, and so is one out of order.
 */
export function candlesFrom(
  asset: Asset,
  interval: Interval,
  rows: readonly unknown[],
  max = MAX_CANDLES,
): Candle[] {
  const candles: Candle[] = [];
  for (const row of rows) {
    if (typeof row !== "object" || row === null) continue;
    const candle = parseCandle(asset, interval, row as Record<string, unknown>);
    if (candle !== undefined) mergeCandle(candles, candle, max);
  }
  return candles;
}

/** How a merge changed the candles: the chart redraws all of them only for an older candle. */
export type Merged = "appended" | "last" | "older" | "unchanged";

/**
 * Merges a candle into candles sorted by `t` (in place), keeping at most `max` (the oldest go).
 * Of two versions of one candle the one with more quotes (`n`) wins: a candle only grows while
 * it is open, so the history fetched and the live updates that arrived meanwhile merge to the
 * same candles in any order.
 */
export function mergeCandle(candles: Candle[], candle: Candle, max = MAX_CANDLES): Merged {
  const last = candles.at(-1);
  if (last === undefined || candle.t > last.t) {
    candles.push(candle);
    if (candles.length > max) candles.splice(0, candles.length - max);
    return "appended";
  }
  const index = findCandle(candles, candle.t);
  if (index < 0) return "unchanged"; // older than the history, or in a gap: not invented
  if (candles[index]!.n > candle.n) return "unchanged";
  candles[index] = candle;
  return index === candles.length - 1 ? "last" : "older";
}

function findCandle(candles: readonly Candle[], t: number): number {
  let low = 0;
  let high = candles.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const at = candles[middle]!.t;
    if (at === t) return middle;
    if (at < t) low = middle + 1;
    else high = middle - 1;
  }
  return -1;
}
