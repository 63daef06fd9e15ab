/**
 * The writers off the engine's hot path, in one run: entries/s the candle writer turns from
 * `{e0}:quotes` into candles (1-minute rows, rollups, the live stream, acknowledgements) next to
 * the history writer's closes/s from `{e0}:output`, both against the same Redis and Postgres.
 * The candle writer runs as in production (its 250 ms gap between reads when caught up, none
 * while full batches come back): what is measured is its catch-up over a backlog, e.g. after a
 * restart. The history writer reads with no gap. Then the choice docs/design.md §8 makes:
 * `GET /candles?interval=1d&limit=1000` read from stored rollup rows, next to the same candles
 * aggregated from 30 days of 1-minute rows by the query, and what the rollups cost the writer.
 */
import postgres from "postgres";
import { Redis } from "ioredis";
import { migrate } from "@trading/shared/db";
import { createLogger } from "@trading/shared/log";
import { OUTPUT_STREAM, QUOTES_STREAM } from "@trading/shared/redis";
import { encodeOutput } from "@trading/shared/schemas";
import { Env, eventually } from "@trading/testing";
import { CandleWriter } from "../engine/io/candle_writer.ts";
import { minuteRows, rollUp, upsertBidMinutes } from "../engine/io/candle_store.ts";
import { HistoryWriter } from "../engine/io/history.ts";
import { CLOSED } from "../engine/testdata/outputs.ts";
import { postgresCandles } from "../api/stores/candles.ts";
import type { Row } from "./lib.ts";

const SECTION = "writers";
const T = Date.UTC(2026, 0, 1);
const MIN = 60_000;
const log = createLogger("bench", "error");

async function groupDone(env: Env, stream: string, group: string, lastId: string) {
  await eventually(`${group} caught up`, async () => {
    const [pending] = await env.redis.xpending(stream, group) as [number];
    const info = await env.redis.xinfo("GROUPS", stream) as unknown[][];
    const mine = info.find((g) => g[1] === group);
    return pending === 0 && mine !== undefined && mine[mine.indexOf("last-delivered-id") + 1] ===
        lastId;
  }, 600_000);
}

/** Quotes of three assets, `perSecond` each second of stream time, as the poller writes them. */
async function writeQuotes(env: Env, count: number, perSecond: number): Promise<string> {
  let lastId = "";
  for (let i = 0; i < count; i += 2000) {
    const pipeline = env.redis.pipeline();
    for (let j = i; j < Math.min(count, i + 2000); j++) {
      const ms = T + Math.floor(j * 1000 / perSecond);
      lastId = `${ms}-${j}`;
      const asset = ["BTC", "ETH", "SOL"][j % 3]!;
      const bid = 9_700_000 + ((j * 7919) % 20_000);
      pipeline.xadd(QUOTES_STREAM, lastId, "price", `${asset} ${bid} ${bid + 10} ${ms}000`);
    }
    await pipeline.exec();
  }
  return lastId;
}

async function candleWriterRate(entries: number): Promise<number> {
  const env = await Env.create();
  const reader = new Redis(env.env.REDIS_URL!);
  try {
    await migrate(env.sql);
    // 30 quotes a second: a busy feed; a batch of 1,000 spans ~33 s, a minute or two.
    const lastId = await writeQuotes(env, entries, 30);
    // The production options (batches of 1,000, minGapMs 250), on a backlog.
    // Its session of its own, as in the engine.
    const session = postgres(env.env.DATABASE_URL!, { onnotice: () => {}, max: 1 });
    const writer = new CandleWriter({ reader, sql: session, log, retentionDays: 36_500 });
    const started = performance.now();
    await writer.start();
    await groupDone(env, QUOTES_STREAM, "candles", lastId);
    const seconds = (performance.now() - started) / 1000;
    await writer.stop();
    await session.end();
    return entries / seconds;
  } finally {
    reader.disconnect();
    await env.close();
  }
}

async function historyWriterRate(closes: number): Promise<number> {
  const env = await Env.create();
  const reader = new Redis(env.env.REDIS_URL!);
  try {
    await migrate(env.sql);
    let lastId = "";
    for (let i = 0; i < closes; i += 2000) {
      const pipeline = env.redis.pipeline();
      for (let j = i; j < Math.min(closes, i + 2000); j++) {
        lastId = `${T + j}-0`;
        pipeline.xadd(
          OUTPUT_STREAM,
          lastId,
          ...encodeOutput({
            kind: "event",
            cause: lastId,
            userId: `u${j % 100}`,
            result: { ...CLOSED, orderId: String(j + 1), reason: "stop_loss" },
          }),
        );
      }
      await pipeline.exec();
    }
    const writer = new HistoryWriter({ reader, sql: env.sql, log, idleMs: 10, minGapMs: 0 });
    const started = performance.now();
    await writer.start();
    await groupDone(env, OUTPUT_STREAM, "history", lastId);
    const seconds = (performance.now() - started) / 1000;
    await writer.stop();
    return closes / seconds;
  } finally {
    reader.disconnect();
    await env.close();
  }
}

/**
 * 30 days of 1-minute rows of three assets (what CANDLE_RETENTION_DAYS keeps) with their
 * rollups; then `rounds` reads of the 1d page each way, and the writer's cost per batch of the
 * 1-minute upsert alone and with its rollups.
 */
async function storedVersusAggregated(rounds: number): Promise<Row[]> {
  const env = await Env.create();
  try {
    await migrate(env.sql);
    const minutes = 30 * 1440;
    for (const asset of ["BTC", "ETH", "SOL"]) {
      for (let start = 0; start < minutes; start += 5000) {
        const ts = Array.from(
          { length: Math.min(5000, minutes - start) },
          (_, i) => String(T + (start + i) * MIN),
        );
        await env.sql`INSERT INTO candles (interval, asset, t, o, h, l, c, n, source)
          SELECT '1m', ${asset}, t, 100 + t % 7, 110 + t % 11, 90 - t % 5, 100 + t % 3, 30, 'bid'
          FROM unnest(${env.sql.array(ts)}::bigint[]) AS t`;
      }
      // Rollups for the whole month, a day of minutes at a time.
      for (let day = 0; day < 30; day++) {
        const keys = Array.from(
          { length: 1440 },
          (_, i) => ({ asset, t: T + (day * 1440 + i) * MIN }),
        );
        await rollUp(env.sql, keys);
      }
    }
    await env.sql`ANALYZE candles`;
    const store = postgresCandles(env.sql);
    const time = async (read: () => Promise<unknown>) => {
      await read();
      const started = performance.now();
      for (let i = 0; i < rounds; i++) await read();
      return (performance.now() - started) / rounds;
    };
    const storedMs = await time(() => store.list("BTC", "1d", 1000, undefined));
    const aggregatedMs = await time(() =>
      env.sql`
        SELECT t - t % 86400000 AS day, (array_agg(o ORDER BY t))[1] AS o, max(h) AS h,
          min(l) AS l, (array_agg(c ORDER BY t DESC))[1] AS c, sum(n) AS n
        FROM candles WHERE interval = '1m' AND asset = 'BTC'
        GROUP BY day ORDER BY day DESC LIMIT 1000`
    );
    // One live batch: a quarter second of quotes touches one minute of each asset.
    const live = ["BTC", "ETH", "SOL"].map((asset, i) => ({
      asset,
      t: T + (minutes + 1) * MIN,
      o: 100n,
      h: 100n,
      l: 100n,
      c: 100n,
      n: 8,
      lastId: `${T + (minutes + 1) * MIN}-${i}`,
    }));
    let seq = 0;
    const upsertMs = await time(() =>
      upsertBidMinutes(
        env.sql,
        live.map((d) => ({ ...d, lastId: `${T + 99 * 86_400_000}-${seq++}` })),
      )
    );
    // What the batch publishes: the touched minutes' rows, then the rollups.
    const rollupMs = await time(async () => {
      await minuteRows(env.sql, live);
      await rollUp(env.sql, live);
    });
    return [
      {
        section: SECTION,
        measure: "GET /candles 1d ×1000 from rollup rows (chosen)",
        value: storedMs,
        unit: "ms",
        reference: { label: "aggregated from 30 days of 1m rows", value: aggregatedMs },
      },
      {
        section: SECTION,
        measure: "a live batch's 1m upsert + rollups of 5 intervals (chosen)",
        value: upsertMs + rollupMs,
        unit: "ms",
        reference: { label: "the 1m upsert alone", value: upsertMs },
      },
    ];
  } finally {
    await env.close();
  }
}

export async function writersBench(quick: boolean): Promise<Row[]> {
  const history = await historyWriterRate(quick ? 5_000 : 30_000);
  const candles = await candleWriterRate(quick ? 20_000 : 100_000);
  return [
    {
      section: SECTION,
      measure: "candle writer: quotes to candles, catching up a backlog (production gap)",
      value: candles,
      unit: "entries/s",
      reference: { label: "history writer: closes to rows, same run", value: history },
    },
    ...await storedVersusAggregated(quick ? 5 : 30),
  ];
}
