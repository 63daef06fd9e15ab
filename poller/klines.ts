/**
 * The poller's backfill (docs/design.md §8): at start, the last 24 h of 1-minute candles from
 * Backpack's public klines endpoint (or the simulator's copy of it), written as `candle` entries
 * on `{e0}:quotes` for the candle writer. They are candles of the last trade, not of the bid, and
 * the writer never lets one overwrite a bid row. Nothing here may stop the poller: a failed or
 * malformed answer is logged and skipped.
 *
 * An answer is an array of {start, end, open, high, low, close, volume, quoteVolume, trades}, all
 * strings, `start` as "2025-07-19 13:09:00" (UTC).
 */
import { type Asset, ASSETS } from "@trading/shared/assets";
import { formatCandleValue, type MinuteCandle } from "@trading/shared/candles";
import type { Logger } from "@trading/shared/log";
import { DecimalError, parseDecimal } from "@trading/shared/money";
import { QUOTES_MAXLEN, QUOTES_STREAM, type RedisClient } from "@trading/shared/redis";
import { sleep } from "@trading/shared/wait";

export const BACKPACK_REST_URL = "https://api.backpack.exchange";
const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** One request per 6 hours of minutes (360 candles), well under any page limit. */
const WINDOW_MS = 6 * 60 * MINUTE_MS;
/** An answer larger than this is refused unread (a day of minutes is ~200 KB). */
const MAX_ANSWER_BYTES = 2 * 1024 * 1024;
const START_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/;
const TRADES_RE = /^\d{1,9}$/;

export interface ParsedKlines {
  candles: MinuteCandle[];
  /**
   * Items that were not a candle we can store exactly (bad shape, an invalid date, too many
   * decimals, …) or whose minute is outside the window asked for.
   */
  refused: number;
}

/** The minutes a request asked for: a candle is kept if `fromMs ≤ t < toMs` and `t ≤ nowMs`. */
export interface KlineWindow {
  fromMs: number;
  toMs: number;
  nowMs: number;
}

/**
 * The 1-minute candles of an answer for `asset` that start in the window asked for: exact prices
 * at the asset's scale (zeros past it are fine) or the candle is refused, never rounded; a date
 * that does not exist ("2026-13-45 99:99:00") is refused, not rolled over; a minute without
 * trades is no candle (a gap stays a gap). Pure.
 */
export function parseKlines(json: unknown, asset: Asset, window: KlineWindow): ParsedKlines {
  if (!Array.isArray(json)) return { candles: [], refused: 1 };
  const scale = ASSETS[asset].priceDecimals;
  const candles: MinuteCandle[] = [];
  let refused = 0;
  for (const item of json.slice(0, 2 * 1440)) {
    const candle = klineOf(item, asset, scale);
    if (candle === undefined) refused++;
    else if (candle === "empty") continue;
    else if (candle.t < window.fromMs || candle.t >= window.toMs || candle.t > window.nowMs) {
      refused++;
    } else candles.push(candle);
  }
  if (json.length > 2 * 1440) refused += json.length - 2 * 1440;
  return { candles, refused };
}

function klineOf(item: unknown, asset: Asset, scale: number): MinuteCandle | "empty" | undefined {
  if (typeof item !== "object" || item === null) return undefined;
  const { start, open, high, low, close, trades } = item as Record<string, unknown>;
  if (typeof start !== "string" || typeof trades !== "string" || !TRADES_RE.test(trades)) {
    return undefined;
  }
  const match = START_RE.exec(start);
  if (match === null) return undefined;
  const t = Date.UTC(
    Number(match[1]),
    Number(match[2]) - 1,
    Number(match[3]),
    Number(match[4]),
    Number(match[5]),
    Number(match[6]),
  );
  if (!Number.isSafeInteger(t) || t % MINUTE_MS !== 0) return undefined;
  // Date.UTC rolls a month 13 or a minute 99 over into a real date: refuse what is not one.
  const [, year, month, day, hour, minute, second] = match;
  if (
    new Date(t).toISOString() !== `${year}-${month}-${day}T${hour}:${minute}:${second}.000Z`
  ) {
    return undefined;
  }
  const n = Number(trades);
  if (n === 0) return "empty";
  const prices = [open, high, low, close];
  if (!prices.every((p) => typeof p === "string")) return undefined;
  try {
    const [o, h, l, c] = prices.map((p) =>
      parseDecimal(p as string, scale, { allowZero: false, allowTrailingZeros: true })
    ) as [
      bigint,
      bigint,
      bigint,
      bigint,
    ];
    if (l > h || o < l || o > h || c < l || c > h) return undefined;
    return { asset, t, o, h, l, c, n };
  } catch (error) {
    if (error instanceof DecimalError) return undefined;
    throw error;
  }
}

export interface BackfillOptions {
  redis: RedisClient;
  /** The REST base: Backpack's, or the simulator's. */
  baseUrl: string;
  /** Backpack market → asset. */
  markets: ReadonlyMap<string, Asset>;
  log: Logger;
  nowMs?: number;
  timeoutMs?: number;
  /**
   * Waits before each retry of a window the REST endpoint could not answer (no connection yet,
   * a 429 or a 5xx): the simulator may start listening after the poller, and Backpack may be
   * busy. An answer that is not klines is not retried.
   */
  retryDelaysMs?: readonly number[];
}

/** About half a minute of retries in all. */
const RETRY_DELAYS_MS = [500, 1000, 2000, 4000, 8000, 15000];

/** A failure worth asking again: the endpoint not reachable, or busy. */
class TransientError extends Error {}

/** Fetches and writes the last day of candles of every market; returns how many it wrote. */
export async function backfillCandles(options: BackfillOptions): Promise<number> {
  const nowMs = options.nowMs ?? Date.now();
  const sinceMs = nowMs - DAY_MS;
  let written = 0;
  for (const [market, asset] of options.markets) {
    for (let fromMs = sinceMs; fromMs < nowMs; fromMs += WINDOW_MS) {
      const toMs = Math.min(nowMs, fromMs + WINDOW_MS);
      try {
        const json = await withRetries(options, () => fetchKlines(options, market, fromMs, toMs));
        const { candles, refused } = parseKlines(json, asset, { fromMs, toMs, nowMs });
        if (refused > 0) options.log.warn("refused klines", { market, refused });
        written += await writeCandles(options.redis, candles);
      } catch (error) {
        // This window only (its retries are spent): the market's other windows are still asked.
        options.log.warn("klines backfill failed; skipping the window", {
          market,
          fromMs,
          toMs,
          error,
        });
      }
    }
  }
  options.log.info("candles backfilled", { written });
  return written;
}

async function withRetries<T>(options: BackfillOptions, ask: () => Promise<T>): Promise<T> {
  const delays = options.retryDelaysMs ?? RETRY_DELAYS_MS;
  for (let attempt = 0;; attempt++) {
    try {
      return await ask();
    } catch (error) {
      if (!(error instanceof TransientError)) throw error;
      if (attempt >= delays.length) throw error.cause;
      await sleep(delays[attempt]!);
    }
  }
}

async function fetchKlines(
  options: BackfillOptions,
  market: string,
  fromMs: number,
  toMs: number,
): Promise<unknown> {
  const url = new URL("/api/v1/klines", options.baseUrl);
  url.searchParams.set("symbol", market);
  url.searchParams.set("interval", "1m");
  url.searchParams.set("startTime", String(Math.floor(fromMs / 1000)));
  url.searchParams.set("endTime", String(Math.floor(toMs / 1000)));
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) });
  } catch (error) {
    throw new TransientError("klines unreachable", { cause: error });
  }
  if (!response.ok) {
    await response.body?.cancel();
    const failure = new Error(`klines answered ${response.status}`);
    if (response.status === 429 || response.status >= 500) {
      throw new TransientError(failure.message, { cause: failure });
    }
    throw failure;
  }
  return JSON.parse(await boundedText(response, MAX_ANSWER_BYTES));
}

/** The body as text, refused (and no longer read) past `maxBytes`, declared or streamed. */
async function boundedText(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? 0);
  if (declared > maxBytes || response.body === null) {
    await response.body?.cancel();
    throw new Error(`klines answer of ${declared} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of response.body) {
    bytes += chunk.length;
    if (bytes > maxBytes) throw new Error(`klines answer over ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  const whole = new Uint8Array(bytes);
  let at = 0;
  for (const chunk of chunks) {
    whole.set(chunk, at);
    at += chunk.length;
  }
  return new TextDecoder().decode(whole);
}

async function writeCandles(redis: RedisClient, candles: readonly MinuteCandle[]): Promise<number> {
  if (candles.length === 0) return 0;
  const pipeline = redis.pipeline();
  for (const candle of candles) {
    pipeline.xadd(
      QUOTES_STREAM,
      "MAXLEN",
      "~",
      QUOTES_MAXLEN,
      "*",
      "candle",
      formatCandleValue(candle),
    );
  }
  const results = await pipeline.exec();
  const failed = results?.find(([error]) => error !== null);
  if (failed) throw failed[0];
  return candles.length;
}
