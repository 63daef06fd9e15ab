/**
 * Recovery edges as processes: trimming keeps what recovery needs, `deno task replay` agrees
 * with the live engine's hash, and a gap in engine:input stops the engine loudly.
 */
import assert from "node:assert/strict";
import { encodeInput, ENGINE_STATUS_KEY, INPUT_STREAM, type InputEntry } from "@trading/shared";
import { compareStreamIds } from "../engine/core/stream_id.ts";
import { eventually, sleep, withEnv } from "./harness.ts";

const PRICES = ["BTC", "ETH", "SOL"];
const wire = (entry: InputEntry) => Object.entries(encodeInput(entry)).flat();

Deno.test("trimming keeps what recovery needs; replay agrees; a gap fails loudly", async (t) => {
  await withEnv({ SNAPSHOT_INTERVAL_MS: "200" }, async (env) => {
    let engine = await env.startEngine();
    const written: string[] = [];
    for (let i = 0; i < 60; i++) {
      const pipeline = env.redis.pipeline();
      for (let j = 0; j < 50; j++) {
        const n = i * 50 + j;
        if (n % 10 === 0) {
          pipeline.xadd(
            INPUT_STREAM,
            "*",
            ...wire({ kind: "create_account", requestId: `a${n}`, userId: `u${n}` }),
          );
        } else {
          const bid = BigInt(1_000_000 + (n % 97));
          const price = { kind: "price", asset: PRICES[n % 3]!, bid, ask: bid, ts: 0n } as const;
          pipeline.xadd(INPUT_STREAM, "*", ...wire(price));
        }
      }
      for (const [error, id] of (await pipeline.exec())!) {
        if (error) throw error;
        written.push(id as string);
      }
      await sleep(30);
    }
    const lastId = written.at(-1)!;

    await t.step("engine:input is trimmed, but never past the oldest kept snapshot", async () => {
      await eventually(
        "a snapshot of the final state",
        async () => (await env.redis.hget(ENGINE_STATUS_KEY, "stateHashId")) === lastId,
      );
      const snapshots = await eventually("three snapshots and a trim", async () => {
        const rows = await env.sql<
          { last_id: string }[]
        >`SELECT last_id FROM snapshots ORDER BY id`;
        const first = (await env.redis.xrange(INPUT_STREAM, "-", "+", "COUNT", 1))[0]?.[0];
        return rows.length === 3 && first !== written[0] ? rows : undefined;
      });
      const oldest = snapshots[0]!.last_id;
      const after = await env.redis.xrange(INPUT_STREAM, `(${oldest}`, "+");
      const expected = written.filter((id) => compareStreamIds(id, oldest) > 0);
      assert.equal(after.length, expected.length, "entries after the oldest snapshot went missing");
      assert.ok(written.length > (await env.redis.xlen(INPUT_STREAM)), "nothing was trimmed");
    });

    await t.step("deno task replay gives the live engine's hash", async () => {
      const status = await eventually("a snapshot of the final state", async () => {
        const s = await env.redis.hgetall(ENGINE_STATUS_KEY);
        return s.stateHashId === lastId ? s : undefined;
      });
      const replay = env.spawn("replay", "engine/replay.ts");
      const { code } = await replay.child.status;
      await sleep(50);
      assert.equal(code, 0, replay.output.join("\n"));
      const hashLine = replay.output.find((line) => line.startsWith("state hash"));
      assert.equal(hashLine, `state hash ${status.stateHash}`, replay.output.join("\n"));
      assert.ok(replay.output.some((line) => /^replayed \d+ entries from snapshot/.test(line)));
    });

    await t.step("a trimmed-away gap stops the engine with a clear error", async () => {
      await engine.kill("SIGKILL");
      // Lose every snapshot: recovery would need the stream from its start, which is trimmed.
      await env.sql`DELETE FROM snapshots`;
      engine = env.spawn("engine", "engine/main.ts");
      const { code } = await Promise.race([
        engine.child.status,
        sleep(20_000).then(() => ({ code: -1 })),
      ]);
      await sleep(50);
      assert.equal(code, 3, engine.output.join("\n"));
      assert.ok(
        engine.output.some((line) => line.includes("lost entries the engine needs")),
        engine.output.join("\n"),
      );
    });
  });
});
