/**
 * Stream fuzz: hostile entries appended straight to engine:input. The engine answers or skips
 * each with a logged reason, never stops, answers every well-formed request ID, and a replay of
 * the same stream from its start gives the same state hash.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { ENGINE_STATUS_KEY, INPUT_STREAM, replyStream } from "@trading/shared";
import { eventually, withEnv } from "./harness.ts";

const ENTRIES = 3000;
/** The API process the entries name (`replyTo`): the test reads its reply stream. */
const REPLY_TO = "fuzz";

const hostileValue = fc.oneof(
  fc.constantFrom(
    "",
    "0",
    "-1",
    "1e309",
    "NaN",
    "99999999999999999999999999999",
    "x".repeat(100_000),
    "\u0000\u0001",
    "😀",
    "BTC 1 2 3",
    "BTC 2 1 0",
    "open",
    "long",
    "u1",
    "r1",
    REPLY_TO,
  ),
  fc.string({ maxLength: 30 }),
);
const fieldName = fc.oneof(
  fc.constantFrom(
    "kind",
    "price",
    "requestId",
    "replyTo",
    "userId",
    "asset",
    "side",
    "marginCents",
    "leverage",
    "slippageBps",
    "expectedPrice",
    "orderId",
    "idempotencyKey",
    "stopLoss",
    "__proto__",
    "constructor",
  ),
  fc.string({ minLength: 1, maxLength: 10 }),
);
const hostileEntry = fc.oneof(
  // Random fields.
  fc.array(fc.tuple(fieldName, hostileValue), { minLength: 1, maxLength: 14 }).map((pairs) =>
    pairs.flat()
  ),
  // Nearly valid instructions with one thing wrong (or nothing: duplicates of request IDs too).
  fc.record({
    kind: fc.constantFrom("open", "close", "query", "create_account", "teleport"),
    requestId: fc.constantFrom("r1", "r2", "dup", "x".repeat(70)),
    replyTo: fc.constantFrom(REPLY_TO, REPLY_TO, "no such!", "x".repeat(41)),
    userId: fc.constantFrom("u1", "u2", "", "a b"),
    asset: fc.constantFrom("BTC", "DOGE", "btc"),
    side: fc.constantFrom("long", "short", "up"),
    marginCents: fc.constantFrom("1000", "0", "-5", "1" + "0".repeat(30)),
    leverage: fc.constantFrom("5", "0", "1000"),
    slippageBps: fc.constantFrom("100", "99999"),
    expectedPrice: fc.constantFrom("9700000", "0"),
    orderId: fc.constantFrom("1", "0", "abc"),
  }, { requiredKeys: ["kind"] }).map((record) => Object.entries(record).flat()),
  // Prices, good and bad.
  fc.tuple(
    fc.constantFrom("BTC", "ETH", "SOL", "DOGE", ""),
    fc.bigInt({ min: -5n, max: 10n ** 20n }),
    fc.bigInt({ min: -5n, max: 10n ** 20n }),
  )
    .map(([asset, bid, ask]) => ["price", `${asset} ${bid} ${ask} 0`]),
);

Deno.test(`stream fuzz: ${ENTRIES} hostile entries, the engine never stops, replay agrees`, async () => {
  await withEnv({ SNAPSHOT_INTERVAL_MS: "300" }, async (env) => {
    const engine = await env.startEngine();
    await env.redis.xadd(
      INPUT_STREAM,
      "*",
      "kind",
      "create_account",
      "requestId",
      "seed1",
      "replyTo",
      REPLY_TO,
      "userId",
      "u1",
    );
    await env.redis.xadd(INPUT_STREAM, "*", "price", "BTC 9700000 9700010 0");
    const samples = fc.sample(hostileEntry, { seed: 777, numRuns: ENTRIES });
    const requestIds = new Set<string>();
    let lastId = "";
    for (let i = 0; i < samples.length; i += 100) {
      const pipeline = env.redis.pipeline();
      for (const flat of samples.slice(i, i + 100)) pipeline.xadd(INPUT_STREAM, "*", ...flat);
      for (const [error, id] of (await pipeline.exec())!) {
        if (!error) lastId = id as string;
      }
    }
    for (const flat of samples) {
      // A field given twice is void: only an entry naming its request once, and this test as
      // the process to answer once, expects an answer here.
      const once = (name: string) => {
        const at = flat.findIndex((field, i) => i % 2 === 0 && field === name);
        const named = flat.filter((field, i) => i % 2 === 0 && field === name).length;
        return named === 1 ? flat[at + 1] : undefined;
      };
      const value = once("requestId");
      if (
        value !== undefined && /^[A-Za-z0-9_-]{1,64}$/.test(value) && once("replyTo") === REPLY_TO
      ) {
        requestIds.add(value);
      }
    }
    const status = await eventually("the engine through the fuzz", async () => {
      const s = await env.redis.hgetall(ENGINE_STATUS_KEY);
      return s.stateHashId === lastId ? s : undefined;
    }, 30_000);
    assert.equal(engine.child.pid > 0, true);
    const alive = await Promise.race([
      engine.child.status.then(() => false),
      Promise.resolve(true),
    ]);
    assert.ok(alive, "the engine stopped");
    const warned = engine.output.filter((line) => line.includes("malformed input entry")).length;
    assert.ok(warned > ENTRIES / 4, `only ${warned} logged skips`);

    const answered = new Set<string>();
    for (const [, flat] of await env.redis.xrange(replyStream(REPLY_TO), "-", "+")) {
      const i = flat.indexOf("requestId");
      if (flat[i + 1]) answered.add(flat[i + 1]!);
    }
    for (const id of requestIds) assert.ok(answered.has(id), `request ${id} got no answer`);

    const replay = env.spawn("replay", "engine/replay.ts", {});
    await replay.child.status;
    await new Promise((resolve) => setTimeout(resolve, 50));
    const hashLine = replay.output.find((line) => line.startsWith("state hash"));
    assert.equal(hashLine, `state hash ${status.stateHash}`, replay.output.join("\n"));
    console.log(
      `stream fuzz: ${samples.length} entries, ${warned} logged skips or refusals, ${requestIds.size} request IDs answered`,
    );
  });
});
