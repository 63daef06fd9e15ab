/**
 * The candle writer alone, as a process a test can kill -9 (tests/candles_test.ts): the same
 * writer the engine runs, on REDIS_URL and DATABASE_URL, with consumer group CANDLE_TEST_GROUP.
 * It prints "upserted" after each batch's 1-minute upsert and then waits CANDLE_TEST_PAUSE_MS
 * before the rollups, so a kill can land there: mid-batch, after a write, before the ack.
 */
import { Redis } from "ioredis";
import postgres from "postgres";
import { createLogger } from "@trading/shared/log";
import { sleep } from "@trading/shared/wait";
import { CandleWriter } from "../engine/io/candle_writer.ts";

const reader = new Redis(Deno.env.get("REDIS_URL")!);
// A session of its own, as the engine gives its writer (the one-writer lock is held by it).
const sql = postgres(Deno.env.get("DATABASE_URL")!, { onnotice: () => {}, max: 1 });
const pauseMs = Number(Deno.env.get("CANDLE_TEST_PAUSE_MS") ?? 0);
const writer = new CandleWriter({
  reader,
  sql,
  log: createLogger("candle-child", "warn"),
  retentionDays: 36_500,
  group: Deno.env.get("CANDLE_TEST_GROUP") ?? "candles",
  batchSize: Number(Deno.env.get("CANDLE_TEST_BATCH") ?? 200),
  minGapMs: 0,
  afterUpsert: async () => {
    console.log("upserted");
    await sleep(pauseMs);
  },
});
await writer.start();
console.log(JSON.stringify({ level: "info", service: "candle-child", ready: true }));
