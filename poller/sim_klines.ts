/**
 * The simulator's `GET /api/v1/klines`: Backpack's answer shape, with a deterministic history
 * (a function of seed, market and minute alone, so any window of it is always the same), close
 * to each market's starting price. Only `interval=1m`; at most a day per request.
 */
const MINUTE_MS = 60_000;
const MAX_MINUTES = 1440;

export interface KlineMarket {
  market: string;
  mid: number;
  decimals: number;
}

/** A 32-bit hash of the inputs (xorshift-multiply), uniform enough for wicks and noise. */
function hash(...values: number[]): number {
  let h = 0x811c9dc5;
  for (const value of values) {
    h = Math.imul(h ^ (value | 0), 0x01000193);
    h = Math.imul(h ^ Math.floor(value / 4_294_967_296), 0x01000193);
    h ^= h >>> 15;
  }
  return (h >>> 0) / 4_294_967_296;
}

/** The close of minute `m` in ticks: two slow waves and some noise, within ~0.3 % of mid. */
function closeTicks(market: KlineMarket, seed: number, m: number): number {
  const midTicks = Math.round(market.mid * 10 ** market.decimals);
  const wave = Math.sin(m / 37) + Math.sin(m / 11) / 2 + (hash(seed, m, 1) - 0.5) / 2;
  return Math.max(1, midTicks + Math.round(midTicks * 0.001 * wave));
}

function format(ticks: number, decimals: number): string {
  const text = String(ticks).padStart(decimals + 1, "0");
  return decimals === 0 ? text : `${text.slice(0, -decimals)}.${text.slice(-decimals)}`;
}

function startText(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
}

/** The minutes starting in [fromMs, toMs], at most MAX_MINUTES, oldest first. */
export function simKlines(
  market: KlineMarket,
  seed: number,
  fromMs: number,
  toMs: number,
): Array<Record<string, string>> {
  const klines: Array<Record<string, string>> = [];
  const first = Math.ceil(fromMs / MINUTE_MS);
  const last = Math.min(Math.floor(toMs / MINUTE_MS), first + MAX_MINUTES - 1);
  for (let m = first; m <= last; m++) {
    const open = closeTicks(market, seed, m - 1);
    const close = closeTicks(market, seed, m);
    const wick = Math.round(Math.abs(open - close) * hash(seed, m, 2)) + 1;
    const trades = 1 + Math.floor(hash(seed, m, 3) * 50);
    klines.push({
      start: startText(m * MINUTE_MS),
      end: startText((m + 1) * MINUTE_MS),
      open: format(open, market.decimals),
      high: format(Math.max(open, close) + wick, market.decimals),
      low: format(Math.max(1, Math.min(open, close) - wick), market.decimals),
      close: format(close, market.decimals),
      volume: "1",
      quoteVolume: format(close, market.decimals),
      trades: String(trades),
    });
  }
  return klines;
}

/** Answers a klines request as Backpack would (400 for what it would refuse). */
export function klinesResponse(
  url: URL,
  markets: ReadonlyMap<string, KlineMarket>,
  seed: number,
  nowMs: number,
): Response {
  const market = markets.get(url.searchParams.get("symbol") ?? "");
  const startSec = Number(url.searchParams.get("startTime"));
  const endText = url.searchParams.get("endTime");
  const endSec = endText === null ? nowMs / 1000 : Number(endText);
  if (
    market === undefined || url.searchParams.get("interval") !== "1m" ||
    !Number.isSafeInteger(startSec) || !Number.isFinite(endSec)
  ) {
    return Response.json({ code: "INVALID_CLIENT_REQUEST", message: "bad klines request" }, {
      status: 400,
    });
  }
  const toMs = Math.min(endSec * 1000, nowMs);
  return Response.json(simKlines(market, seed, startSec * 1000, toMs));
}
