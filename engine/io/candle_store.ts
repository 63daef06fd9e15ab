/**
 * The candles' SQL (docs/design.md §8): 1-minute rows upserted from a batch of `{e0}:quotes`,
 * each applying the batch only if its entries are newer than the last one the row applied; the
 * larger intervals recomputed from the interval below them for the buckets the batch touched;
 * and the retention trim. Each statement is atomic on its own (no transaction: see
 * SnapshotStore.save), and each is safe to run again: that is what makes a batch re-read after
 * a crash leave the rows as one uninterrupted run would.
 */
import {
  type Candle,
  type Interval,
  INTERVAL_MS,
  INTERVALS,
  intervalStart,
  type MinuteCandle,
} from "@trading/shared/candles";
import type { Sql } from "@trading/shared/db";
import { parseStreamId } from "../core/stream_id.ts";

/** A batch's quotes of one asset in one minute, folded in stream order. */
export interface MinuteDelta {
  asset: string;
  t: number;
  o: bigint;
  h: bigint;
  l: bigint;
  c: bigint;
  n: number;
  /** The last entry folded in. */
  lastId: string;
}

/** An exchange candle and the entry that carried it. */
export interface KlineRow extends MinuteCandle {
  id: string;
}

/** Each larger interval and the one it is rolled up from (each divides the next). */
const ROLLUPS: ReadonlyArray<[Interval, Interval]> = [
  ["5m", "1m"],
  ["15m", "5m"],
  ["1h", "15m"],
  ["4h", "1h"],
  ["1d", "4h"],
];

interface Row {
  asset: string;
  t: string;
  o: string;
  h: string;
  l: string;
  c: string;
  n: string;
}

const toCandle = (interval: Interval) => (row: Row): Candle => ({
  asset: row.asset,
  interval,
  t: Number(row.t),
  o: BigInt(row.o),
  h: BigInt(row.h),
  l: BigInt(row.l),
  c: BigInt(row.c),
  n: Number(row.n),
});

const column = <T>(rows: readonly T[], pick: (row: T) => string | number | bigint) =>
  rows.map((row) => String(pick(row)));

/**
 * Folds the bid deltas into the 1-minute rows. A row takes a delta only if the delta's last entry
 * is newer than the row's: a batch read again after a crash changes nothing. A bid merges into
 * an exchange (klines) row of the same minute, which becomes a bid row. Run after the batch's
 * exchange candles (`upsertKlineMinutes`), which came before its bids in the stream.
 */
export async function upsertBidMinutes(
  sql: Sql,
  deltas: readonly MinuteDelta[],
): Promise<Candle[]> {
  if (deltas.length === 0) return [];
  const ids = deltas.map((d) => parseStreamId(d.lastId));
  const rows = await sql<Row[]>`
    INSERT INTO candles (interval, asset, t, o, h, l, c, n, source, last_ms, last_seq)
    SELECT '1m', asset, t, o, h, l, c, n, 'bid', last_ms, last_seq
    FROM unnest(
      ${sql.array(column(deltas, (d) => d.asset))}::text[],
      ${sql.array(column(deltas, (d) => d.t))}::bigint[],
      ${sql.array(column(deltas, (d) => d.o))}::bigint[],
      ${sql.array(column(deltas, (d) => d.h))}::bigint[],
      ${sql.array(column(deltas, (d) => d.l))}::bigint[],
      ${sql.array(column(deltas, (d) => d.c))}::bigint[],
      ${sql.array(column(deltas, (d) => d.n))}::bigint[],
      ${sql.array(column(ids, (id) => id.ms))}::bigint[],
      ${sql.array(column(ids, (id) => id.seq))}::bigint[]
    ) AS d(asset, t, o, h, l, c, n, last_ms, last_seq)
    ON CONFLICT (interval, asset, t) DO UPDATE SET
      h = GREATEST(candles.h, EXCLUDED.h),
      l = LEAST(candles.l, EXCLUDED.l),
      c = EXCLUDED.c,
      n = candles.n + EXCLUDED.n,
      source = 'bid',
      last_ms = EXCLUDED.last_ms,
      last_seq = EXCLUDED.last_seq
    WHERE (candles.last_ms, candles.last_seq) < (EXCLUDED.last_ms, EXCLUDED.last_seq)
    RETURNING asset, t, o, h, l, c, n`;
  return rows.map(toCandle("1m"));
}

/**
 * Exchange candles (the poller's backfill) as 1-minute rows: a new one, or one replacing an
 * older exchange row of the same minute; a bid row is never touched.
 */
export async function upsertKlineMinutes(sql: Sql, klines: readonly KlineRow[]): Promise<Candle[]> {
  if (klines.length === 0) return [];
  const ids = klines.map((k) => parseStreamId(k.id));
  const rows = await sql<Row[]>`
    INSERT INTO candles (interval, asset, t, o, h, l, c, n, source, last_ms, last_seq)
    SELECT '1m', asset, t, o, h, l, c, n, 'klines', last_ms, last_seq
    FROM unnest(
      ${sql.array(column(klines, (k) => k.asset))}::text[],
      ${sql.array(column(klines, (k) => k.t))}::bigint[],
      ${sql.array(column(klines, (k) => k.o))}::bigint[],
      ${sql.array(column(klines, (k) => k.h))}::bigint[],
      ${sql.array(column(klines, (k) => k.l))}::bigint[],
      ${sql.array(column(klines, (k) => k.c))}::bigint[],
      ${sql.array(column(klines, (k) => k.n))}::bigint[],
      ${sql.array(column(ids, (id) => id.ms))}::bigint[],
      ${sql.array(column(ids, (id) => id.seq))}::bigint[]
    ) AS k(asset, t, o, h, l, c, n, last_ms, last_seq)
    ON CONFLICT (interval, asset, t) DO UPDATE SET
      o = EXCLUDED.o, h = EXCLUDED.h, l = EXCLUDED.l, c = EXCLUDED.c, n = EXCLUDED.n,
      last_ms = EXCLUDED.last_ms, last_seq = EXCLUDED.last_seq
    WHERE candles.source = 'klines'
      AND (candles.last_ms, candles.last_seq) < (EXCLUDED.last_ms, EXCLUDED.last_seq)
    RETURNING asset, t, o, h, l, c, n`;
  return rows.map(toCandle("1m"));
}

/**
 * The current 1-minute rows of the given minutes, whoever wrote them last: what a batch
 * publishes, also when it is read again after a crash and its upserts change nothing.
 */
export async function minuteRows(
  sql: Sql,
  minutes: ReadonlyArray<{ asset: string; t: number }>,
): Promise<Candle[]> {
  if (minutes.length === 0) return [];
  const rows = await sql<Row[]>`
    SELECT c.asset, c.t, c.o, c.h, c.l, c.c, c.n
    FROM unnest(
      ${sql.array(column(minutes, (m) => m.asset))}::text[],
      ${sql.array(column(minutes, (m) => m.t))}::bigint[]
    ) AS k(asset, t)
    JOIN candles c ON c.interval = '1m' AND c.asset = k.asset AND c.t = k.t
    ORDER BY c.t`;
  return rows.map(toCandle("1m"));
}

/**
 * Recomputes, for every larger interval in turn, the buckets that hold the given minutes, each
 * from the rows of the interval below it (5m from 1m, 15m from 5m, …). Recomputed, not added
 * to: running it again gives the same rows, and a batch whose 1-minute upsert was already
 * applied before a crash still gets its rollups.
 */
export async function rollUp(
  sql: Sql,
  minutes: ReadonlyArray<{ asset: string; t: number }>,
): Promise<Candle[]> {
  const changed: Candle[] = [];
  if (minutes.length === 0) return changed;
  for (const [interval, from] of ROLLUPS) {
    const buckets = new Map<string, { asset: string; t: number }>();
    for (const { asset, t } of minutes) {
      const start = intervalStart(t, interval);
      buckets.set(`${asset} ${start}`, { asset, t: start });
    }
    const keys = [...buckets.values()];
    const rows = await sql<Row[]>`
      INSERT INTO candles (interval, asset, t, o, h, l, c, n, source)
      SELECT ${interval}, k.asset, k.t, s.o, s.h, s.l, s.c, s.n, 'rollup'
      FROM unnest(
        ${sql.array(column(keys, (k) => k.asset))}::text[],
        ${sql.array(column(keys, (k) => k.t))}::bigint[]
      ) AS k(asset, t)
      -- LATERAL: one index range per bucket, whatever the planner guesses of the unnest.
      CROSS JOIN LATERAL (
        SELECT (array_agg(o ORDER BY t))[1] AS o, max(h) AS h, min(l) AS l,
          (array_agg(c ORDER BY t DESC))[1] AS c, sum(n)::bigint AS n
        FROM candles
        WHERE interval = ${from} AND asset = k.asset
          AND t >= k.t AND t < k.t + ${INTERVAL_MS[interval]}
      ) AS s
      WHERE s.n IS NOT NULL
      ON CONFLICT (interval, asset, t) DO UPDATE SET
        o = EXCLUDED.o, h = EXCLUDED.h, l = EXCLUDED.l, c = EXCLUDED.c, n = EXCLUDED.n
      RETURNING asset, t, o, h, l, c, n`;
    changed.push(...rows.map(toCandle(interval)));
  }
  return changed;
}

/**
 * Deletes the candles past retention: 1-minute rows older than `retentionDays`, and each larger
 * interval's rows older than as many of its candles (5m keeps 5 × as long, 1d 1,440 ×), so every
 * interval holds at most as many rows per asset as 1m does.
 */
export async function trimCandles(sql: Sql, nowMs: number, retentionDays: number): Promise<number> {
  let deleted = 0;
  for (const interval of INTERVALS) {
    const keepMs = retentionDays * 86_400_000 * (INTERVAL_MS[interval] / INTERVAL_MS["1m"]);
    const result = await sql`
      DELETE FROM candles WHERE interval = ${interval} AND t < ${nowMs - keepMs}`;
    deleted += result.count;
  }
  return deleted;
}
