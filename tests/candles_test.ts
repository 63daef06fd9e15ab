/**
 * The candle writer against real Redis and Postgres: 1-minute rows and every larger interval
 * checked by hand, gaps left as gaps, exchange candles never over a bid row, an entry applied
 * twice changing nothing, exactly once across kill -9 mid-batch, the retention trim, and
 * `{e0}:quotes` bounded (the poller's cap, the trim below the group's acknowledgements).
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import postgres from "postgres";
import { migrate, withDatabase } from "@trading/shared/db";
import { formatCandleValue } from "@trading/shared/candles";
import { createLogger } from "@trading/shared/log";
import { CANDLES_STREAM, INPUT_STREAM, QUOTES_STREAM } from "@trading/shared/redis";
import {
  CANDLE_GROUP,
  CandleWriter,
  type CandleWriterOptions,
} from "../engine/io/candle_writer.ts";
import { trimAcknowledged } from "../engine/io/trim.ts";
import { appendQuote } from "../poller/append_quote.ts";
import { backfillCandles } from "../poller/klines.ts";
import { trimCandles } from "../engine/io/candle_store.ts";
import { postgresCandles } from "../api/stores/candles.ts";
import { Env, eventually, freePort, sleep } from "./harness.ts";

const ADMIN = Deno.env.get("TEST_ADMIN_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/postgres";
/** A UTC midnight: every interval starts here. */
const T = Date.UTC(2026, 0, 1);
const MIN = 60_000;

interface Stored {
  interval: string;
  asset: string;
  t: string;
  o: string;
  h: string;
  l: string;
  c: string;
  n: string;
  source: string;
  last_ms: string | null;
  last_seq: string | null;
}

const rowsOf = (sql: postgres.Sql) =>
  sql<Stored[]>`SELECT * FROM candles ORDER BY interval, asset, t`;

/** "o h l c n" of one row, or undefined. */
async function ohlcn(sql: postgres.Sql, interval: string, asset: string, t: number) {
  const [row] = await sql<Stored[]>`
    SELECT * FROM candles WHERE interval = ${interval} AND asset = ${asset} AND t = ${t}`;
  return row === undefined ? undefined : `${row.o} ${row.h} ${row.l} ${row.c} ${row.n}`;
}

const quote = (redis: Env["redis"], ms: number, seq: number, asset: string, bid: number) =>
  redis.xadd(QUOTES_STREAM, `${ms}-${seq}`, "price", `${asset} ${bid} ${bid + 1} ${ms * 1000}`);

function newWriter(
  env: Env,
  databaseUrl = env.env.DATABASE_URL!,
  group = "candles",
  options: Partial<CandleWriterOptions> = {},
) {
  const reader = new Redis(env.env.REDIS_URL!);
  // A session of its own, as the engine gives its writer (the lock is held by it).
  const sql = postgres(databaseUrl, { onnotice: () => {}, max: 1 });
  const writer = new CandleWriter({
    reader,
    sql,
    log: createLogger("test", "error"),
    retentionDays: 36_500,
    group,
    minGapMs: 0,
    ...options,
  });
  return {
    writer,
    async caughtUp(lastId: string) {
      await eventually("the writer acknowledges everything", async () => {
        const info = await env.redis.xinfo("GROUPS", QUOTES_STREAM) as unknown[][];
        const mine = info.map((g) => Object.fromEntries(pairs(g))).find((g) => g.name === group);
        return mine?.["last-delivered-id"] === lastId && mine?.pending === 0;
      }, 20_000);
    },
    async stop() {
      await writer.stop();
      reader.disconnect();
      await sql.end({ timeout: 1 });
    },
  };
}

function pairs(flat: unknown[]): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([String(flat[i]), flat[i + 1]]);
  return out;
}

Deno.test("candle writer: minutes and every larger interval by hand; gaps stay gaps; twice is once", async () => {
  const env = await Env.create();
  await migrate(env.sql);
  const { writer, caughtUp, stop } = newWriter(env);
  try {
    // BTC prices are in cents (2 decimals). Minute 0: four quotes; minute 1: one; minutes 2
    // and 3: none (a gap); minute 4: two; minute 5 (the next 5m bucket): one.
    await quote(env.redis, T + 1_000, 0, "BTC", 10_000);
    await quote(env.redis, T + 1_000, 1, "ETH", 300_000);
    await quote(env.redis, T + 20_000, 0, "BTC", 10_500);
    await env.redis.xadd(QUOTES_STREAM, `${T + 30_000}-0`, "price", "BTC x y z");
    await env.redis.xadd(QUOTES_STREAM, `${T + 30_000}-1`, "price", "DOGE 5 6 7");
    await env.redis.xadd(QUOTES_STREAM, `${T + 30_000}-2`, "candle", "BTC 1 2 3");
    await quote(env.redis, T + 50_000, 0, "BTC", 9_800);
    await quote(env.redis, T + 59_999, 0, "BTC", 10_100);
    await quote(env.redis, T + MIN, 0, "BTC", 11_000);
    await quote(env.redis, T + 4 * MIN + 5, 0, "BTC", 9_000);
    await quote(env.redis, T + 4 * MIN + 6, 0, "BTC", 9_500);
    const last = `${T + 5 * MIN}-0`;
    await quote(env.redis, T + 5 * MIN, 0, "BTC", 12_000);
    await writer.start();
    await caughtUp(last);

    const check = async () => {
      assert.equal(await ohlcn(env.sql, "1m", "BTC", T), "10000 10500 9800 10100 4");
      assert.equal(await ohlcn(env.sql, "1m", "BTC", T + MIN), "11000 11000 11000 11000 1");
      assert.equal(await ohlcn(env.sql, "1m", "BTC", T + 2 * MIN), undefined, "a gap stays a gap");
      assert.equal(await ohlcn(env.sql, "1m", "BTC", T + 3 * MIN), undefined, "a gap stays a gap");
      assert.equal(await ohlcn(env.sql, "1m", "BTC", T + 4 * MIN), "9000 9500 9000 9500 2");
      assert.equal(await ohlcn(env.sql, "1m", "BTC", T + 5 * MIN), "12000 12000 12000 12000 1");
      assert.equal(await ohlcn(env.sql, "1m", "ETH", T), "300000 300000 300000 300000 1");
      // 5m: minutes 0–4, then minute 5 alone.
      assert.equal(await ohlcn(env.sql, "5m", "BTC", T), "10000 11000 9000 9500 7");
      assert.equal(await ohlcn(env.sql, "5m", "BTC", T + 5 * MIN), "12000 12000 12000 12000 1");
      // 15m and everything above: all eight quotes.
      for (const interval of ["15m", "1h", "4h", "1d"]) {
        assert.equal(
          await ohlcn(env.sql, interval, "BTC", T),
          "10000 12000 9000 12000 8",
          interval,
        );
      }
      const count = await env.sql`SELECT count(*)::int AS n FROM candles WHERE asset = 'BTC'`;
      assert.equal(count[0]!.n, 4 + 2 + 4, "4 minutes, 2 five-minute candles, one of each above");
    };
    await check();
    assert.equal(writer.skipped, 3, "the malformed entries are skipped");
    const before = await rowsOf(env.sql);

    // The API's view of them: decimal strings, oldest first, before= and limit=.
    const store = postgresCandles(env.sql);
    const page = await store.list("BTC", "1m", 500, undefined);
    assert.deepEqual(page.map((c) => c.t), [T, T + MIN, T + 4 * MIN, T + 5 * MIN]);
    assert.deepEqual(page[0], { t: T, o: "100", h: "105", l: "98", c: "101", n: 4 });
    assert.deepEqual(
      (await store.list("BTC", "1m", 2, T + 5 * MIN)).map((c) => c.t),
      [T + MIN, T + 4 * MIN],
    );

    // Every entry delivered again (as after a crash before the acknowledgement): no change.
    await env.redis.xgroup("SETID", QUOTES_STREAM, "candles", "0");
    await sleep(300);
    await caughtUp(last);
    assert.deepEqual(await rowsOf(env.sql), before, "an entry applied twice changes nothing");

    // Exchange candles: a new minute becomes a klines row; the bid minute is left alone.
    const kline = (t: number) =>
      formatCandleValue({ asset: "BTC", t, o: 1n, h: 5n, l: 1n, c: 2n, n: 7 });
    await env.redis.xadd(QUOTES_STREAM, `${T + 10 * MIN}-0`, "candle", kline(T + 2 * MIN));
    await env.redis.xadd(QUOTES_STREAM, `${T + 10 * MIN}-1`, "candle", kline(T));
    await caughtUp(`${T + 10 * MIN}-1`);
    assert.equal(await ohlcn(env.sql, "1m", "BTC", T + 2 * MIN), "1 5 1 2 7");
    assert.equal(await ohlcn(env.sql, "1m", "BTC", T), "10000 10500 9800 10100 4", "bid row kept");
    assert.equal(await ohlcn(env.sql, "5m", "BTC", T), "10000 11000 1 9500 14", "rolled up again");
  } finally {
    await stop();
    await env.close();
  }
});

Deno.test("candle writer: kill -9 mid-batch, restarted, leaves the rows of an uninterrupted run", async () => {
  const env = await Env.create();
  const admin = postgres(ADMIN, { onnotice: () => {}, max: 1 });
  const referenceName = `${env.dbName}_ref`;
  await admin.unsafe(`CREATE DATABASE ${referenceName}`);
  const reference = postgres(withDatabase(ADMIN, referenceName), { onnotice: () => {}, max: 2 });
  const writers: Array<ReturnType<typeof newWriter>> = [];
  try {
    await migrate(env.sql);
    await migrate(reference);
    // 3,000 quotes over ~100 minutes of three assets, and exchange candles among them.
    let seed = 7;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
    const pipeline = env.redis.pipeline();
    let lastId = "";
    for (let i = 0; i < 3000; i++) {
      const ms = T + i * 2_000 + Math.floor(random() * 1_000);
      const asset = ["BTC", "ETH", "SOL"][i % 3]!;
      lastId = `${ms}-0`;
      if (i % 97 === 0 || i % 41 === 0) {
        // Some before the bids' day, some of the minute being quoted (after some of its bids)
        // and some of the next minute (before its bids): klines sharing a minute with bids.
        const t = i % 97 === 0 ? T - (1 + (i % 50)) * MIN : ms - (ms % MIN) + (i % 2) * MIN;
        pipeline.xadd(
          QUOTES_STREAM,
          lastId,
          "candle",
          formatCandleValue({
            asset,
            t,
            o: 500n,
            h: 900n,
            l: 100n,
            c: 600n,
            n: 3,
          }),
        );
      } else {
        const bid = 10_000 + Math.floor(random() * 500);
        pipeline.xadd(QUOTES_STREAM, lastId, "price", `${asset} ${bid} ${bid + 2} ${ms}000`);
      }
    }
    await pipeline.exec();

    // The uninterrupted run, into the reference database through its own group.
    const uninterrupted = newWriter(env, withDatabase(ADMIN, referenceName), "reference");
    writers.push(uninterrupted);
    await uninterrupted.writer.start();
    await uninterrupted.caughtUp(lastId);

    // The crashing run: killed right after a batch's upsert (before its rollups and ack),
    // five times, each restart taking the batch back from the group.
    const childEnv = { CANDLE_TEST_GROUP: "crashy", CANDLE_TEST_PAUSE_MS: "200" };
    for (let kill = 0; kill < 5; kill++) {
      const child = env.spawn(`candle-child-${kill}`, "tests/candle_writer_child.ts", childEnv);
      const seen = child.output.filter((l) => l === "upserted").length;
      await eventually(
        "a batch upserted",
        () => child.output.filter((l) => l === "upserted").length > seen + kill % 2,
        20_000,
      );
      await child.kill("SIGKILL");
    }
    const pending = await env.redis.xpending(QUOTES_STREAM, "crashy") as [number];
    assert.ok(pending[0] > 0, "the last kill left a batch unacknowledged");
    env.spawn("candle-child-final", "tests/candle_writer_child.ts", {
      ...childEnv,
      CANDLE_TEST_PAUSE_MS: "0",
    });
    const crashy = newWriter(env, undefined, "crashy"); // never started: it waits on the group
    writers.push(crashy);
    await crashy.caughtUp(lastId);

    const [got, want] = [await rowsOf(env.sql), await rowsOf(reference)];
    assert.ok(want.length > 300, `the run made ${want.length} rows`);
    assert.equal(got.length, want.length);
    assert.deepEqual(got, want);
  } finally {
    for (const w of writers) await w.stop();
    await reference.end();
    await env.close();
    await admin.unsafe(`DROP DATABASE IF EXISTS ${referenceName} WITH (FORCE)`);
    await admin.end();
  }
});

Deno.test("candle retention: 1m rows past CANDLE_RETENTION_DAYS go, each interval keeps as many candles", async () => {
  const env = await Env.create();
  try {
    await migrate(env.sql);
    const now = T + 1000 * 86_400_000;
    const day = 86_400_000;
    const rows: Array<[string, number]> = [
      ["1m", now - 31 * day], // gone: older than 30 days
      ["1m", now - 29 * day], // kept
      ["5m", now - 149 * day], // kept: 5m keeps 5 × 30 days
      ["5m", now - 151 * day], // gone
      ["1h", now - 1799 * day], // kept: 60 × 30 days
      ["1h", now - 1801 * day], // gone
      ["1d", now - 999 * day], // kept: 1d keeps 1440 × 30 days
    ];
    for (const [interval, t] of rows) {
      await env.sql`INSERT INTO candles (interval, asset, t, o, h, l, c, n, source)
        VALUES (${interval}, 'BTC', ${t}, 1, 1, 1, 1, 1, 'rollup')`;
    }
    assert.equal(await trimCandles(env.sql, now, 30), 3);
    const left = await env.sql<{ interval: string; t: string }[]>`
      SELECT interval, t FROM candles ORDER BY interval, t`;
    assert.deepEqual(
      left.map((r) => `${r.interval} ${(now - Number(r.t)) / day}`).sort(),
      ["1d 999", "1h 1799", "1m 29", "5m 149"],
    );
  } finally {
    await env.close();
  }
});

Deno.test("{e0}:quotes stays bounded: capped as the poller writes, trimmed below the group's acknowledgements", async () => {
  const env = await Env.create();
  try {
    // The poller's MULTI: every quote on both streams, {e0}:quotes capped (here at 100).
    for (let i = 0; i < 1000; i++) {
      await appendQuote(env.redis, ["price", `BTC ${100 + i} ${101 + i} ${i}`], 100);
    }
    assert.equal(await env.redis.xlen(INPUT_STREAM), 1000, "the engine's stream is never capped");
    const capped = await env.redis.xlen(QUOTES_STREAM);
    assert.ok(capped >= 100 && capped <= 200, `${capped} quotes kept of 1,000 (cap ~100)`);

    // Trimmed below what the candle group still needs, never past it.
    await env.redis.del(QUOTES_STREAM);
    const pipeline = env.redis.pipeline();
    for (let i = 1; i <= 1000; i++) pipeline.xadd(QUOTES_STREAM, `${i}-0`, "price", `BTC 1 2 ${i}`);
    await pipeline.exec();
    assert.equal(await trimAcknowledged(env.redis, QUOTES_STREAM, CANDLE_GROUP, 1e9, 0), 0);
    assert.equal(await env.redis.xlen(QUOTES_STREAM), 1000, "no group yet: everything is kept");
    await env.redis.xgroup("CREATE", QUOTES_STREAM, CANDLE_GROUP, "0");
    await env.redis.xreadgroup(
      "GROUP",
      CANDLE_GROUP,
      "w",
      "COUNT",
      600,
      "STREAMS",
      QUOTES_STREAM,
      ">",
    );
    await env.redis.xack(
      QUOTES_STREAM,
      CANDLE_GROUP,
      ...Array.from({ length: 500 }, (_, i) => `${i + 1}-0`),
    );
    // Acknowledged through 500, delivered through 600: 501 is the oldest still needed.
    await trimAcknowledged(env.redis, QUOTES_STREAM, CANDLE_GROUP, 1e9, 0);
    const [oldest] = await env.redis.xrange(QUOTES_STREAM, "-", "+", "COUNT", 1);
    const oldestMs = Number(oldest![0].split("-")[0]);
    assert.ok(oldestMs <= 501, `kept from ${oldestMs}: nothing unacknowledged is trimmed`);
    assert.ok(await env.redis.xlen(QUOTES_STREAM) < 1000, "what was acknowledged is trimmed");
  } finally {
    await env.close();
  }
});

Deno.test("backfill: an error, a non-JSON or an oversized answer is logged and skipped; good ones are written", async () => {
  const env = await Env.create();
  const good = [{
    start: "2026-01-01 00:01:00",
    end: "2026-01-01 00:02:00",
    open: "150.5",
    high: "151",
    low: "150",
    close: "150.75",
    volume: "1",
    quoteVolume: "150",
    trades: "9",
  }];
  const asked = new Map<string, number>();
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (request) => {
    const symbol = new URL(request.url).searchParams.get("symbol");
    asked.set(symbol ?? "", (asked.get(symbol ?? "") ?? 0) + 1);
    if (symbol === "BTC_USDC_PERP") return new Response("busy", { status: 503 });
    if (symbol === "ETH_USDC_PERP") return new Response("<html>not json</html>");
    if (symbol === "XRP_USDC_PERP") {
      // Streamed with no length: refused once past 2 MiB, not read to its end.
      const chunk = new TextEncoder().encode(" ".repeat(64 * 1024));
      let sent = 0;
      return new Response(
        new ReadableStream({
          pull(controller) {
            if (sent++ < 1000) controller.enqueue(chunk);
            else controller.close();
          },
        }),
      );
    }
    const url = new URL(request.url);
    const [from, to] = ["startTime", "endTime"].map((k) => Number(url.searchParams.get(k)) * 1000);
    const t = Date.UTC(2026, 0, 1, 0, 1);
    return Response.json(from! <= t && t <= to! ? good : []);
  });
  const warnings: string[] = [];
  const log = {
    ...createLogger("test", "error"),
    warn: (message: string) => void warnings.push(message),
    info: () => {},
  };
  try {
    const written = await backfillCandles({
      redis: env.redis,
      baseUrl: `http://127.0.0.1:${server.addr.port}`,
      markets: new Map([
        ["BTC_USDC_PERP", "BTC"],
        ["ETH_USDC_PERP", "ETH"],
        ["XRP_USDC_PERP", "BTC"],
        ["SOL_USDC_PERP", "SOL"],
      ]),
      log: log as ReturnType<typeof createLogger>,
      nowMs: Date.UTC(2026, 0, 1, 0, 5),
      retryDelaysMs: [10, 10],
    });
    assert.equal(written, 1, "SOL's one candle");
    // A day is 4 windows of 6 h; a failed window is skipped, not the market's other windows.
    assert.equal(asked.get("BTC_USDC_PERP"), 4 * 3, "a 503 is asked again, twice here, per window");
    assert.equal(asked.get("ETH_USDC_PERP"), 4, "an answer that is not klines is not");
    assert.equal(asked.get("XRP_USDC_PERP"), 4);
    assert.equal(
      warnings.filter((w) => w.includes("backfill failed")).length,
      3 * 4,
      warnings.join(),
    );
    const entries = await env.redis.xrange(QUOTES_STREAM, "-", "+");
    assert.deepEqual(entries.map(([, f]) => f), [[
      "candle",
      `SOL ${Date.UTC(2026, 0, 1, 0, 1)} 1505000 1510000 1500000 1507500 9`,
    ]]);
  } finally {
    await server.shutdown();
    await env.close();
  }
});

Deno.test("backfill: an endpoint that starts listening after the poller is asked again", async () => {
  const env = await Env.create();
  const port = freePort();
  const good = [{
    start: "2026-01-01 00:01:00",
    end: "2026-01-01 00:02:00",
    open: "150.5",
    high: "151",
    low: "150",
    close: "150.75",
    volume: "1",
    quoteVolume: "150",
    trades: "9",
  }];
  let server: Deno.HttpServer | undefined;
  try {
    const backfill = backfillCandles({
      redis: env.redis,
      baseUrl: `http://127.0.0.1:${port}`,
      markets: new Map([["SOL_USDC_PERP", "SOL"]]),
      log: createLogger("test", "error"),
      nowMs: Date.UTC(2026, 0, 1, 0, 5),
      retryDelaysMs: [300, 300, 300],
    });
    // Nothing listens at first (as when the poller starts before the simulator).
    await sleep(100);
    server = Deno.serve({ port, hostname: "127.0.0.1", onListen: () => {} }, (request) => {
      const url = new URL(request.url);
      const [from, to] = ["startTime", "endTime"].map((k) =>
        Number(url.searchParams.get(k)) * 1000
      );
      const t = Date.UTC(2026, 0, 1, 0, 1);
      return Response.json(from! <= t && t <= to! ? good : []);
    });
    assert.equal(await backfill, 1, "written once the endpoint answered");
    assert.equal(await env.redis.xlen(QUOTES_STREAM), 1);
  } finally {
    await server?.shutdown();
    await env.close();
  }
});

/** Every row of every interval, without the columns only the 1-minute upsert compares. */
const allRows = (sql: postgres.Sql) =>
  sql`SELECT interval, asset, t, o, h, l, c, n, source, last_ms, last_seq
    FROM candles ORDER BY interval, asset, t`;

Deno.test("candle writer: the rows depend on the stream's order only, not on where batches end", async () => {
  const env = await Env.create();
  try {
    await migrate(env.sql);
    const kline = (t: number, o: bigint, n: number) =>
      formatCandleValue({ asset: "BTC", t, o, h: 20_000n, l: 5_000n, c: o, n });
    const entries: Array<[string, string, string]> = [
      // Minute 0: an exchange candle of it, then bids in it: the bids merge into it.
      [`${T + 1_000}-0`, "candle", kline(T, 7_000n, 3)],
      [`${T + 2_000}-0`, "price", "BTC 10000 10001 1"],
      [`${T + 3_000}-0`, "price", "BTC 21000 21001 1"],
      // Minute 1: a bid, then an exchange candle of it: the candle is dropped.
      [`${T + MIN + 1_000}-0`, "price", "BTC 11000 11001 1"],
      [`${T + MIN + 2_000}-0`, "candle", kline(T + MIN, 8_000n, 4)],
      [`${T + MIN + 3_000}-0`, "price", "BTC 12000 12001 1"],
      // Minute 2: two exchange candles (the later replaces the first), a bid, another candle.
      [`${T + 2 * MIN + 1_000}-0`, "candle", kline(T + 2 * MIN, 6_000n, 5)],
      [`${T + 2 * MIN + 2_000}-0`, "candle", kline(T + 2 * MIN, 9_000n, 6)],
      [`${T + 2 * MIN + 3_000}-0`, "price", "BTC 13000 13001 1"],
      [`${T + 2 * MIN + 4_000}-0`, "candle", kline(T + 2 * MIN, 6_500n, 7)],
      // Minute 3: an exchange candle alone.
      [`${T + 3 * MIN + 1_000}-0`, "candle", kline(T + 3 * MIN, 9_500n, 2)],
    ];
    for (const [id, field, value] of entries) await env.redis.xadd(QUOTES_STREAM, id, field, value);
    const lastId = entries.at(-1)![0];
    const runs: unknown[] = [];
    for (const batchSize of [1, 2, 1000]) {
      await env.sql`TRUNCATE candles`;
      const run = newWriter(env, undefined, `batch-${batchSize}`, { batchSize });
      try {
        await run.writer.start();
        await run.caughtUp(lastId);
      } finally {
        await run.stop();
      }
      assert.equal(await ohlcn(env.sql, "1m", "BTC", T), "7000 21000 5000 21000 5", `${batchSize}`);
      assert.equal(await ohlcn(env.sql, "1m", "BTC", T + MIN), "11000 12000 11000 12000 2");
      assert.equal(await ohlcn(env.sql, "1m", "BTC", T + 2 * MIN), "9000 20000 5000 13000 7");
      assert.equal(await ohlcn(env.sql, "1m", "BTC", T + 3 * MIN), "9500 20000 5000 9500 2");
      runs.push(await allRows(env.sql));
    }
    assert.equal(
      (runs[0] as unknown[]).length,
      4 + 5,
      "4 minutes, one candle of each larger interval",
    );
    assert.deepEqual(runs[1], runs[0], "batches of 2 as of 1");
    assert.deepEqual(runs[2], runs[0], "one batch as batches of 1");
  } finally {
    await env.close();
  }
});

Deno.test("candle writer: an unacknowledged quote trimmed since is skipped and acknowledged; the writer goes on", async () => {
  const env = await Env.create();
  const { writer, caughtUp, stop } = newWriter(env, undefined, CANDLE_GROUP);
  try {
    await migrate(env.sql);
    await quote(env.redis, T + 1_000, 0, "BTC", 10_000);
    await quote(env.redis, T + 2_000, 0, "BTC", 10_500);
    await env.redis.xgroup("CREATE", QUOTES_STREAM, CANDLE_GROUP, "0");
    // Read by the writer's consumer, never acknowledged, then the first is trimmed (MAXLEN).
    await env.redis.xreadgroup(
      "GROUP",
      CANDLE_GROUP,
      "candle-writer",
      "STREAMS",
      QUOTES_STREAM,
      ">",
    );
    await env.redis.xtrim(QUOTES_STREAM, "MINID", `${T + 2_000}-0`);
    await writer.start();
    await quote(env.redis, T + 3_000, 0, "BTC", 9_000);
    await caughtUp(`${T + 3_000}-0`);
    assert.equal(await ohlcn(env.sql, "1m", "BTC", T), "10500 10500 9000 9000 2");
    assert.equal(writer.skipped, 1, "the trimmed entry counts as skipped");
  } finally {
    await stop();
    await env.close();
  }
});

Deno.test("candle writer: two at once (one stalled mid-batch) never apply batches out of order", async () => {
  const env = await Env.create();
  let releaseStall!: () => void;
  const stall = new Promise<void>((resolve) => releaseStall = resolve);
  let stalled = false;
  // Each with a session of its own (newWriter), as two engine processes have.
  const first = newWriter(env, undefined, CANDLE_GROUP, {
    batchSize: 1,
    lockPollMs: 20,
    // The first batch stalls before it is written, as an engine that lost its lease may.
    beforeCommit: async () => {
      if (stalled) return;
      stalled = true;
      await stall;
    },
  });
  const second = newWriter(env, undefined, CANDLE_GROUP, { batchSize: 1, lockPollMs: 20 });
  try {
    await migrate(env.sql);
    await first.writer.start();
    await quote(env.redis, T + 1_000, 0, "BTC", 10_000);
    await eventually("the first writer stalls on its batch", () => stalled, 5_000);
    await second.writer.start();
    await quote(env.redis, T + 2_000, 0, "BTC", 20_000);
    await sleep(500);
    assert.equal(second.writer.entries, 0, "the second waits for the lock");
    assert.equal(await ohlcn(env.sql, "1m", "BTC", T), undefined, "nothing written meanwhile");
    releaseStall();
    await first.caughtUp(`${T + 2_000}-0`);
    assert.equal(await ohlcn(env.sql, "1m", "BTC", T), "10000 20000 10000 20000 2");
    // The first stops (its process exits): the second takes over where it left off.
    await first.stop();
    await quote(env.redis, T + 3_000, 0, "BTC", 15_000);
    await second.caughtUp(`${T + 3_000}-0`);
    assert.equal(second.writer.entries, 1);
    assert.equal(await ohlcn(env.sql, "1m", "BTC", T), "10000 20000 10000 15000 3");
  } finally {
    releaseStall();
    await first.stop();
    await second.stop();
    await env.close();
  }
});

Deno.test("candle writer: a batch read again after a crash still publishes its 1-minute candle", async () => {
  const env = await Env.create();
  let crashes = 0;
  const { writer, caughtUp, stop } = newWriter(env, undefined, CANDLE_GROUP, {
    // The first batch fails after its upserts, before rollups, publication and ack.
    afterUpsert: () => crashes++ === 0 ? Promise.reject(new Error("crash")) : Promise.resolve(),
  });
  try {
    await migrate(env.sql);
    await quote(env.redis, T + 1_000, 0, "BTC", 10_000);
    await writer.start();
    await caughtUp(`${T + 1_000}-0`);
    assert.equal(crashes, 2, "written, failed, read again");
    const published = (await env.redis.xrange(CANDLES_STREAM, "-", "+"))
      .flatMap(([, fields]) => JSON.parse(fields[1]!) as Array<{ interval: string; n: number }>);
    assert.deepEqual(
      published.map((c) => `${c.interval} ${c.n}`),
      ["1m 1", "5m 1", "15m 1", "1h 1", "4h 1", "1d 1"],
    );
  } finally {
    await stop();
    await env.close();
  }
});

Deno.test("candle writer: behind, it reads again at once; caught up, at most 4 reads a second", async () => {
  const env = await Env.create();
  const { writer, caughtUp, stop } = newWriter(env, undefined, CANDLE_GROUP, {
    batchSize: 100,
    minGapMs: 250, // the production gap
  });
  try {
    await migrate(env.sql);
    const pipeline = env.redis.pipeline();
    for (let i = 0; i < 2_000; i++) {
      pipeline.xadd(QUOTES_STREAM, `${T + i}-0`, "price", `BTC ${10_000 + i} ${10_001 + i} 1`);
    }
    await pipeline.exec();
    // 20 full batches: read one after the other, not 250 ms apart (that would take 5 s).
    const started = performance.now();
    await writer.start();
    await caughtUp(`${T + 1_999}-0`);
    const catchUpMs = performance.now() - started;
    assert.ok(catchUpMs < 2_500, `caught up in ${catchUpMs.toFixed(0)} ms`);
    // Caught up, a quote every 20 ms: at most one read (and batch) per 250 ms.
    const before = writer.entries;
    const reads: number[] = [];
    const origin = performance.now();
    for (let i = 0; i < 50; i++) {
      await quote(env.redis, T + 10_000 + i, 0, "BTC", 10_000);
      await sleep(20);
    }
    await caughtUp(`${T + 10_049}-0`);
    reads.push(performance.now() - origin);
    assert.equal(writer.entries - before, 50);
    const batches = await env.redis.xlen(CANDLES_STREAM);
    const seconds = reads[0]! / 1000;
    // One publication per batch (after the 20 catch-up batches): ≤ 4 a second, plus the first.
    assert.ok(
      batches - 20 <= Math.ceil(seconds * 4) + 1,
      `${batches - 20} batches in ${seconds} s`,
    );
  } finally {
    await stop();
    await env.close();
  }
});

Deno.test("backfill: a window that fails is skipped; the market's later windows are still asked", async () => {
  const env = await Env.create();
  const nowMs = Date.UTC(2026, 0, 1, 0, 5);
  const windows: number[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (request) => {
    const url = new URL(request.url);
    const from = Number(url.searchParams.get("startTime")) * 1000;
    windows.push(from);
    // The first window (the oldest 6 h) is refused; the last one holds a candle.
    if (from === nowMs - 86_400_000) return new Response("bad request", { status: 400 });
    const t = Date.UTC(2026, 0, 1, 0, 1);
    const to = Number(url.searchParams.get("endTime")) * 1000;
    return Response.json(
      from <= t && t < to
        ? [{
          start: "2026-01-01 00:01:00",
          open: "150.5",
          high: "151",
          low: "150",
          close: "150.50",
          trades: "9",
        }]
        : [],
    );
  });
  try {
    const written = await backfillCandles({
      redis: env.redis,
      baseUrl: `http://127.0.0.1:${server.addr.port}`,
      markets: new Map([["SOL_USDC_PERP", "SOL"]]),
      log: createLogger("test", "error"),
      nowMs,
      retryDelaysMs: [10],
    });
    assert.equal(windows.length, 4, "every window asked, the failed one once (a 400 is final)");
    assert.equal(written, 1, "the last window's candle");
    assert.equal(await env.redis.xlen(QUOTES_STREAM), 1);
  } finally {
    await server.shutdown();
    await env.close();
  }
});
