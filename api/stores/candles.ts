/**
 * Candles from Postgres for `GET /candles` (docs/design.md §8): every interval is rows of its
 * own (the candle writer rolls them up), so a page is one index range of at most `limit` rows,
 * whatever the interval. Oldest first; the newest (the candle still open) last.
 */
import { type CandleView, candleView, type Interval } from "@trading/shared/candles";
import type { Sql } from "@trading/shared/db";

export interface CandleStore {
  /** Up to `limit` candles starting before `beforeMs` (all when undefined), oldest first. */
  list(
    asset: string,
    interval: Interval,
    limit: number,
    beforeMs: number | undefined,
  ): Promise<CandleView[]>;
}

interface Row {
  t: string;
  o: string;
  h: string;
  l: string;
  c: string;
  n: string;
}

export function postgresCandles(sql: Sql): CandleStore {
  return {
    async list(asset, interval, limit, beforeMs) {
      const rows = await sql<Row[]>`
        SELECT t, o, h, l, c, n FROM candles
        WHERE interval = ${interval} AND asset = ${asset}
          ${beforeMs === undefined ? sql`` : sql`AND t < ${beforeMs}`}
        ORDER BY t DESC
        LIMIT ${limit}`;
      return rows.reverse().map((row) =>
        candleView({
          t: Number(row.t),
          o: BigInt(row.o),
          h: BigInt(row.h),
          l: BigInt(row.l),
          c: BigInt(row.c),
          n: Number(row.n),
        }, asset)
      );
    },
  };
}
