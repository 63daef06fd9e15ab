/**
 * Trade history through crashes: the engine (and its history writer) is killed mid-batch and
 * Postgres is stopped and restarted while closes stream in. Every close lands exactly once.
 */
import assert from "node:assert/strict";
import { encodeInput, INPUT_STREAM, type InputEntry, OUTPUT_STREAM } from "@trading/shared";
import { eventually, sleep, withEnv } from "./harness.ts";
import { startPrivatePostgres } from "./private_postgres.ts";

const USERS = 20;
const TRADES = 400;

Deno.test("history writer killed mid-batch and Postgres restarted: no lost, no duplicate rows", async () => {
  const pg = await startPrivatePostgres();
  try {
    await withEnv({ DATABASE_URL: pg.url, SNAPSHOT_INTERVAL_MS: "500" }, async (env) => {
      let engine = await env.startEngine();
      const wire = (entry: InputEntry) => Object.entries(encodeInput(entry)).flat();
      const add = (entry: InputEntry) => env.redis.xadd(INPUT_STREAM, "*", ...wire(entry));
      for (let u = 0; u < USERS; u++) {
        await add({ kind: "create_account", requestId: `a${u}`, userId: `u${u}` });
      }
      const price = { kind: "price", asset: "ETH", bid: 350_000n, ask: 350_010n, ts: 0n } as const;
      await add(price);

      let postgresStopped = false;
      for (let k = 1; k <= TRADES; k++) {
        const user = `u${k % USERS}`;
        const pipeline = env.redis.pipeline();
        pipeline.xadd(INPUT_STREAM, "*", ...wire(price));
        pipeline.xadd(
          INPUT_STREAM,
          "*",
          ...wire({
            kind: "open",
            requestId: `o${k}`,
            userId: user,
            asset: "ETH",
            side: k % 2 ? "long" : "short",
            marginCents: 1000n,
            leverage: 5,
            slippageBps: 100,
            expectedPrice: 350_005n,
          }),
        );
        pipeline.xadd(
          INPUT_STREAM,
          "*",
          ...wire({ kind: "close", requestId: `c${k}`, userId: user, orderId: String(k) }),
        );
        await pipeline.exec();
        if (k === 100 || k === 300) {
          // Kill while history batches are in flight, then bring the engine back.
          await engine.kill("SIGKILL");
          engine = await env.startEngine();
        }
        if (k === 150) {
          await pg.stop();
          postgresStopped = true;
        }
        if (k === 250) {
          await sleep(1000); // trading went on meanwhile; now Postgres returns
          await pg.start();
          postgresStopped = false;
        }
        await sleep(5);
      }
      assert.equal(postgresStopped, false);

      const rows = await eventually("every close in history", async () => {
        const result = await env.sql<
          { order_id: string; reason: string }[]
        >`SELECT order_id::text, reason FROM trades`;
        return result.length >= TRADES ? result : undefined;
      }, 30_000);
      await sleep(500);
      const again = await env.sql<{ n: string }[]>`SELECT count(*)::text AS n FROM trades`;
      assert.equal(again[0]!.n, String(TRADES));
      assert.deepEqual(
        rows.map((r) => Number(r.order_id)).sort((a, b) => a - b),
        Array.from({ length: TRADES }, (_, i) => i + 1),
      );
      assert.ok(rows.every((r) => r.reason === "manual"));
      const pending = await env.redis.xpending(OUTPUT_STREAM, "history") as [number];
      assert.equal(pending[0], 0, "everything acknowledged");
    });
  } finally {
    await pg.destroy();
  }
});
