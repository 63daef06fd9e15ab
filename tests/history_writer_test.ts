/**
 * The history writer against real Redis and Postgres: it reads engine:output when the engine
 * says it wrote a close (`notify`), at most once every `minGapMs`, and otherwise only every
 * `idleMs`; every output it reads is acknowledged, closes or not.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { migrate } from "@trading/shared/db";
import { createLogger } from "@trading/shared/log";
import { OUTPUT_STREAM } from "@trading/shared/redis";
import { encodeOutput, type EngineOutput } from "@trading/shared/schemas";
import { HISTORY_GROUP, HistoryWriter } from "../engine/io/history.ts";
import { CLOSED } from "../engine/testdata/outputs.ts";
import { Env, eventually, sleep } from "./harness.ts";

const closed = (orderId: string, cause: string): EngineOutput => ({
  kind: "event",
  cause,
  userId: "u1",
  result: { ...CLOSED, orderId, reason: "stop_loss" },
});
const price = (cause: string): EngineOutput => ({
  kind: "price",
  cause,
  asset: "BTC",
  bid: "97000",
  ask: "97001",
  ts: 1,
});

async function withWriter(
  timing: { idleMs: number; minGapMs?: number },
  body: (env: Env, writer: HistoryWriter, write: (o: EngineOutput) => Promise<void>) => Promise<
    void
  >,
) {
  const env = await Env.create();
  const reader = new Redis(env.env.REDIS_URL!);
  const writer = new HistoryWriter({
    reader,
    sql: env.sql,
    log: createLogger("test", "error"),
    ...timing,
  });
  try {
    await migrate(env.sql);
    const write = async (output: EngineOutput) => {
      await env.redis.xadd(OUTPUT_STREAM, "*", ...encodeOutput(output));
    };
    await body(env, writer, write);
  } finally {
    await writer.stop();
    reader.disconnect();
    await env.close();
  }
}

const orderIds = async (env: Env) =>
  (await env.sql<{ order_id: string }[]>`SELECT order_id FROM trades ORDER BY order_id`)
    .map((r) => r.order_id);

Deno.test("history writer: a notify makes it read at once; without one it waits for idleMs", async () => {
  await withWriter({ idleMs: 60_000 }, async (env, writer, write) => {
    await write(price("1-0"));
    await write(closed("1", "1-1"));
    await writer.start(); // reads what is there on start
    await eventually(
      "the close written before start",
      async () => (await orderIds(env)).length === 1,
    );

    await write(closed("2", "1-2"));
    await sleep(500);
    assert.deepEqual(await orderIds(env), ["1"], "read without a notify before idleMs passed");

    writer.notify();
    await eventually(
      "the close after notify",
      async () => (await orderIds(env)).length === 2,
      5000,
    );
    assert.deepEqual(await orderIds(env), ["1", "2"]);
    assert.equal(writer.written, 2);
    const pending = await env.redis.xpending(OUTPUT_STREAM, HISTORY_GROUP) as [number];
    assert.equal(pending[0], 0, "every output read is acknowledged");
  });
});

Deno.test("history writer: with no notify, closes are still written after idleMs", async () => {
  await withWriter({ idleMs: 200 }, async (env, writer, write) => {
    await writer.start();
    await sleep(100);
    for (let i = 0; i < 3; i++) {
      await write(price(`2-${2 * i}`));
      await write(closed(String(10 + i), `2-${2 * i + 1}`));
    }
    await eventually("three closes", async () => (await orderIds(env)).length === 3, 5000);
    assert.deepEqual(await orderIds(env), ["10", "11", "12"]);
  });
});

Deno.test("history writer: notifies closer than minGapMs make one read, the first at once", async () => {
  await withWriter({ idleMs: 60_000, minGapMs: 3000 }, async (env, writer, write) => {
    await writer.start();
    await sleep(3200); // the start's reads are more than minGapMs ago
    await write(closed("20", "3-1"));
    writer.notify();
    // Within 2 s, where waiting out minGapMs would take 3.
    await eventually(
      "the first close, at once",
      async () => (await orderIds(env)).length === 1,
      2000,
    );

    await write(closed("21", "3-2"));
    writer.notify();
    await write(closed("22", "3-3"));
    writer.notify();
    await sleep(500);
    assert.deepEqual(await orderIds(env), ["20"], "read again before minGapMs passed");
    await eventually("both later closes", async () => (await orderIds(env)).length === 3, 5000);
    assert.deepEqual(await orderIds(env), ["20", "21", "22"]);
  });
});

Deno.test("history writer: an unacknowledged output trimmed since is skipped and acknowledged, not retried forever", async () => {
  await withWriter({ idleMs: 50, minGapMs: 0 }, async (env, writer, write) => {
    await env.redis.xgroup("CREATE", OUTPUT_STREAM, HISTORY_GROUP, "0", "MKSTREAM");
    await write(closed("1", "1-0"));
    await write(closed("2", "2-0"));
    // Read by the writer's consumer before a crash, never acknowledged; then the first is
    // trimmed: the group hands it back as [id, null].
    const read = await env.redis.xreadgroup(
      "GROUP",
      HISTORY_GROUP,
      "history-writer",
      "STREAMS",
      OUTPUT_STREAM,
      ">",
    ) as Array<[string, Array<[string, string[]]>]>;
    const [first, second] = read[0]![1].map(([id]) => id);
    await env.redis.xtrim(OUTPUT_STREAM, "MINID", second!);
    await writer.start();
    await write(closed("3", "3-0"));
    writer.notify();
    await eventually("the trimmed output acknowledged, the others written", async () => {
      const [pending] = await env.redis.xpending(OUTPUT_STREAM, HISTORY_GROUP) as [number];
      return pending === 0 && (await orderIds(env)).length === 2;
    }, 5_000);
    assert.deepEqual(await orderIds(env), ["2", "3"]);
    assert.ok(first !== undefined);
  });
});
