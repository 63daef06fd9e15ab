/**
 * An upgrade from before the hash tag: the engine finds `engine:input` and `engine:output`, moves
 * them to their names now, suppresses what the old engine had already answered, and goes on.
 */
import assert from "node:assert/strict";
import {
  ENGINE_STATUS_KEY,
  LEGACY_KEYS,
  OUTPUT_STREAM,
  replyStream,
  WRITTEN_KEY,
} from "@trading/shared/redis";
import { encodeInput, encodeOutput } from "@trading/shared/schemas";
import { eventually, withEnv } from "./harness.ts";

Deno.test("the engine moves the streams of before the hash tag and answers nothing twice", async () => {
  await withEnv({}, async (env) => {
    const add = (fields: Record<string, string>) =>
      env.redis.xadd(LEGACY_KEYS.input, "*", ...Object.entries(fields).flat());
    const first = (await add(
      encodeInput({ kind: "create_account", requestId: "old-1", userId: "u1", replyTo: "up" }),
    ))!;
    // The old engine answered the first entry before it stopped.
    await env.redis.xadd(
      LEGACY_KEYS.output,
      "*",
      ...encodeOutput({
        kind: "answer",
        cause: first,
        requestId: "old-1",
        userId: "u1",
        ok: true,
        result: { event: "account", balance: "500000", created: true },
      }),
    );
    const last = (await add(
      encodeInput({ kind: "create_account", requestId: "old-2", userId: "u2", replyTo: "up" }),
    ))!;

    const engine = await env.startEngine();
    assert.ok(engine.output.some((line) => line.includes("moved the engine's streams")));
    assert.equal(await env.redis.exists(LEGACY_KEYS.input, LEGACY_KEYS.output), 0);
    assert.equal(await env.redis.xlen(OUTPUT_STREAM), 1, "the old output moved");
    await eventually(
      "caught up",
      async () => (await env.redis.hget(ENGINE_STATUS_KEY, "lastId")) === last,
    );
    // Only the entry the old engine had not answered is answered now.
    const answered = (await env.redis.xrange(replyStream("up"), "-", "+")).map(([, flat]) =>
      flat[flat.indexOf("requestId") + 1]
    );
    assert.deepEqual(answered, ["old-2"]);
    assert.equal(await env.redis.get(WRITTEN_KEY), last);
  });
});
