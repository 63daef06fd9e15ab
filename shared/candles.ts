/**
 * Candles (docs/design.md §8): the intervals, and the two wire formats that carry them.
 *
 * - On `{e0}:quotes` the poller writes each quote as on `{e0}:input` (one `price` field), and at
 *   start a day of exchange candles as `candle` entries: "<ASSET> <t> <o> <h> <l> <c> <n>", `t`
 *   the minute's start in ms, prices integer units at the asset's scale, `n` trades.
 * - On `{e0}:candles` the candle writer puts, after each batch, the candles it changed: one
 *   entry, one field `candles`, a JSON array of `{asset, interval, t, o, h, l, c, n}` with
 *   prices as decimal strings, what gateways push as they are.
 */
import { z } from "zod";
import { ASSET_SYMBOLS, ASSETS, isAsset } from "./assets.ts";
import { formatDecimal } from "./money.ts";

export { type Interval, INTERVAL_MS, INTERVALS, intervalStart, isInterval } from "./intervals.ts";
import { type Interval, INTERVAL_MS, INTERVALS } from "./intervals.ts";

/** A candle in integer price units; `t` its start in ms, `n` the quotes (or trades) in it. */
export interface Candle {
  asset: string;
  interval: Interval;
  t: number;
  o: bigint;
  h: bigint;
  l: bigint;
  c: bigint;
  n: number;
}

/** An exchange 1-minute candle, as a `candle` entry of `{e0}:quotes` carries it. */
export type MinuteCandle = Omit<Candle, "interval">;

export function formatCandleValue(candle: MinuteCandle): string {
  const { asset, t, o, h, l, c, n } = candle;
  return `${asset} ${t} ${o} ${h} ${l} ${c} ${n}`;
}

const UNITS_RE = /^[1-9][0-9]{0,17}$/;
const COUNT_RE = /^[1-9][0-9]{0,8}$/;
const MS_RE = /^[0-9]{1,15}$/;

/** Parses a `candle` value; a string is why it is refused (a traded asset, a minute, l ≤ o,c ≤ h). */
export function parseCandleValue(value: string): MinuteCandle | string {
  if (value.length > 160) return "candle: too long";
  const parts = value.split(" ");
  if (parts.length !== 7) return 'candle: must be "<ASSET> <t> <o> <h> <l> <c> <n>"';
  const [asset, t, o, h, l, c, n] = parts as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (!isAsset(asset)) return "candle: unknown asset";
  if (!MS_RE.test(t) || Number(t) % INTERVAL_MS["1m"] !== 0) {
    return "candle: t must be a minute's start";
  }
  if (![o, h, l, c].every((p) => UNITS_RE.test(p))) return "candle: prices must be positive units";
  if (!COUNT_RE.test(n)) return "candle: n must be a positive count";
  const [open, high, low, close] = [BigInt(o), BigInt(h), BigInt(l), BigInt(c)];
  if (low > high || open < low || open > high || close < low || close > high) {
    return "candle: open and close must lie within low..high";
  }
  return { asset, t: Number(t), o: open, h: high, l: low, c: close, n: Number(n) };
}

/** A candle as the API and the WebSocket show it: prices as decimal strings. */
export interface CandleView {
  t: number;
  o: string;
  h: string;
  l: string;
  c: string;
  n: number;
}

export function candleView(candle: Omit<Candle, "interval" | "asset">, asset: string): CandleView {
  const scale = isAsset(asset) ? ASSETS[asset].priceDecimals : 0;
  return {
    t: candle.t,
    o: formatDecimal(candle.o, scale),
    h: formatDecimal(candle.h, scale),
    l: formatDecimal(candle.l, scale),
    c: formatDecimal(candle.c, scale),
    n: candle.n,
  };
}

const decimal = z.string().regex(/^[0-9]{1,19}(\.[0-9]{1,18})?$/);
/** One changed candle on `{e0}:candles`: validated by each gateway when read. */
export const liveCandleSchema = z.strictObject({
  asset: z.enum(ASSET_SYMBOLS),
  interval: z.enum(INTERVALS),
  t: z.number().int().nonnegative(),
  o: decimal,
  h: decimal,
  l: decimal,
  c: decimal,
  n: z.number().int().positive(),
});
export type LiveCandle = z.infer<typeof liveCandleSchema>;
/** At most this many candles in one `{e0}:candles` entry (the writer sends far fewer). */
export const MAX_LIVE_CANDLES = 256;
export const liveCandlesSchema = z.array(liveCandleSchema).max(MAX_LIVE_CANDLES);
