/**
 * Pipeline: entries/s the engine process consumes from its input stream and answers (prices
 * mixed with instructions; each instruction addressed to one reply stream, as an API process
 * addresses its own, and order events on the output stream), next to a bare ioredis
 * `XREAD COUNT 1000` reading the same stream on the same Redis.
 */
import { INPUT_STREAM, OUTPUT_STREAM, type XReadReply } from "@trading/shared/redis";
import { encodeInput, type InputEntry } from "@trading/shared/schemas";
import { Env, eventually } from "@trading/testing";
import type { Row } from "./lib.ts";

/** An entry's XADD arguments after the ID: its wire form (`encodeInput`), field by field. */
const wire = (entry: InputEntry) => Object.entries(encodeInput(entry)).flat();

/**
 * Where the engine writes the instructions' answers, as it would for an API process of this
 * API_ID (an answer without an address has no reader and is dropped).
 */
const REPLY_TO = "bench-pipeline";

export async function pipelineBench(entries: number): Promise<Row[]> {
  const env = await Env.create({ SNAPSHOT_INTERVAL_MS: "600000" });
  try {
    const users = 1000;
    for (let u = 0; u < users; u += 500) {
      const pipeline = env.redis.pipeline();
      for (let i = u; i < u + 500; i++) {
        pipeline.xadd(
          INPUT_STREAM,
          "*",
          ...wire({
            kind: "create_account",
            requestId: `a${i}`,
            userId: `u${i}`,
            replyTo: REPLY_TO,
          }),
        );
      }
      await pipeline.exec();
    }
    for (let i = 0; i < entries; i += 2000) {
      const pipeline = env.redis.pipeline();
      for (let j = i; j < i + 2000 && j < entries; j++) {
        if (j % 50 === 0) {
          pipeline.xadd(
            INPUT_STREAM,
            "*",
            ...wire({
              kind: "open",
              requestId: `o${j}`,
              replyTo: REPLY_TO,
              userId: `u${j % users}`,
              asset: "ETH",
              side: j % 100 ? "long" : "short",
              marginCents: 100n,
              leverage: 2,
              slippageBps: 10_000,
              expectedPrice: 350_005n,
            }),
          );
        } else if (j % 50 === 25) {
          pipeline.xadd(
            INPUT_STREAM,
            "*",
            ...wire({
              kind: "query",
              requestId: `q${j}`,
              userId: `u${j % users}`,
              replyTo: REPLY_TO,
            }),
          );
        } else {
          const mid = BigInt(350_000 + (j % 20));
          const asset = ["BTC", "ETH", "SOL"][j % 3]!;
          pipeline.xadd(
            INPUT_STREAM,
            "*",
            ...wire({ kind: "price", asset, bid: mid, ask: mid + 10n, ts: 0n }),
          );
        }
      }
      await pipeline.exec();
    }
    const total = await env.redis.xlen(INPUT_STREAM);

    // Reference: the bare client reading the same stream, doing nothing with it; the faster of
    // two passes, so the reference is not held back by a cold JIT.
    const reader = env.redis.duplicate();
    let rawRate = 0;
    for (let pass = 0; pass < 2; pass++) {
      let lastId = "0-0";
      let read = 0;
      const started = performance.now();
      for (;;) {
        const reply = await reader.xread(
          "COUNT",
          1000,
          "STREAMS",
          INPUT_STREAM,
          lastId,
        ) as XReadReply;
        const batch = reply?.[0]?.[1] ?? [];
        if (batch.length === 0) break;
        read += batch.length;
        lastId = batch[batch.length - 1]![0];
      }
      rawRate = Math.max(rawRate, read / ((performance.now() - started) / 1000));
    }
    reader.disconnect();

    // The engine: from its start to every entry applied and every answer written.
    const engine = await env.startEngine();
    const caughtUp = await eventually(
      "the engine caught up",
      () => engine.output.find((l) => l.includes('"caught up"')),
      120_000,
    );
    const { replayed, seconds } = JSON.parse(caughtUp) as { replayed: number; seconds: number };
    const events = await env.redis.xlen(OUTPUT_STREAM);
    return [{
      section: "pipeline",
      measure: `engine consumes and answers (${
        total.toLocaleString("en-US")
      } entries, 4 % instructions answered on a reply stream, ${
        events.toLocaleString("en-US")
      } order events)`,
      value: replayed / seconds,
      unit: "entries/s",
      reference: {
        label: "ioredis XREAD COUNT 1000, no processing, faster of 2 passes",
        value: rawRate,
      },
      target: "ratio ≥ 0.5",
    }];
  } finally {
    await env.close();
  }
}
