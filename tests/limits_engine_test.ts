/**
 * The engine's limits through the real processes: the position cap, answers no larger than
 * their caller needs, and idempotency keys that remember only state changes, refuse another
 * request under the same key, stay capped per account, and make a 504 safe to retry.
 */
import assert from "node:assert/strict";
import { createLogger } from "@trading/shared/log";
import { INPUT_STREAM } from "@trading/shared/redis";
import { compareStreamIds } from "../engine/core/stream_id.ts";
import type { EngineState } from "../engine/core/state.ts";
import { SnapshotStore } from "../engine/io/snapshots.ts";
import { type Env, eventually, http, newUser, waitForPrices, withEnv } from "./harness.ts";

type Body = Record<string, unknown> & { error?: { code: string } };
type Trade = { orderId: string };

/** The engine's state as its first snapshot taken after everything sent so far. */
async function snapshotAfterNow(env: Env): Promise<EngineState> {
  // The stream's last entry now: every request answered so far stands at or before it.
  const applied = (await env.redis.xrevrange(INPUT_STREAM, "+", "-", "COUNT", 1))[0]![0];
  const store = new SnapshotStore(env.sql, createLogger("test", "error"));
  return await eventually("a snapshot after the requests", async () => {
    const newest = (await store.list())[0];
    if (newest === undefined || compareStreamIds(newest.lastId, applied) < 0) return undefined;
    return (await store.loadNewestValid())?.state;
  });
}

const keysOf = (state: EngineState, userId: string) =>
  [...state.idempotency.keys()].filter((mapKey) => mapKey.startsWith(`${userId}\n`))
    .map((mapKey) => mapKey.slice(userId.length + 1));

Deno.test("engine limits: positions cap, paged reads, idempotency that cannot be abused", async (t) => {
  const extra = { MAX_OPEN_POSITIONS: "3", SNAPSHOT_INTERVAL_MS: "300", ENGINE_TIMEOUT_MS: "1500" };
  await withEnv(extra, async (env) => {
    await env.startAll();
    const base = env.api;
    await waitForPrices(base);
    const alice = await newUser(base);
    const long = { asset: "BTC", type: "long", margin: 1000, leverage: 2, slippage: 10_000 };
    const create = (token: string, body: unknown, key?: string) =>
      http<Body>(base, "POST", "/trade/create", {
        token,
        body,
        headers: key === undefined ? {} : { "idempotency-key": key },
      });
    const close = (token: string, orderId: string, key?: string) =>
      http<Body>(base, "POST", "/trade/close", {
        token,
        body: { orderId },
        headers: key === undefined ? {} : { "idempotency-key": key },
      });
    const openTrades = async (token: string, query = "") =>
      (await http<{ trades: Trade[]; nextCursor: string | null }>(
        base,
        "GET",
        `/trades/open${query}`,
        { token },
      )).body;

    const opened: string[] = [];
    await t.step("MAX_OPEN_POSITIONS: the next open is 422 too_many_positions", async () => {
      for (let i = 0; i < 3; i++) {
        const result = await create(alice.token, long);
        assert.equal(result.status, 200, JSON.stringify(result.body));
        opened.push(result.body.orderId as string);
      }
      const refused = await create(alice.token, long);
      assert.equal(refused.status, 422);
      assert.equal(refused.body.error?.code, "too_many_positions");
      assert.equal((await openTrades(alice.token)).trades.length, 3);
    });

    await t.step("/balance carries no positions; /trades/open pages by cursor", async () => {
      const balance = await http<{ usd: Record<string, unknown> }>(base, "GET", "/balance", {
        token: alice.token,
      });
      assert.deepEqual(Object.keys(balance.body).sort(), ["usd"]);
      assert.deepEqual(Object.keys(balance.body.usd).sort(), [
        "balance",
        "decimals",
        "equity",
        "locked",
        "marginLevel",
        "pending",
      ]);
      assert.equal(balance.body.usd.locked, 3000);
      const first = await openTrades(alice.token, "?limit=2");
      assert.deepEqual(first.trades.map((trade) => trade.orderId), opened.slice(0, 2));
      assert.equal(first.nextCursor, opened[1]);
      const second = await openTrades(alice.token, `?limit=2&cursor=${first.nextCursor}`);
      assert.deepEqual(second.trades.map((trade) => trade.orderId), opened.slice(2));
      assert.equal(second.nextCursor, null);
      for (const query of ["?limit=501", "?limit=0", "?cursor=abc", "?limit=x"]) {
        const bad = await http<Body>(base, "GET", `/trades/open${query}`, { token: alice.token });
        assert.equal(bad.status, 400, query);
      }
    });

    const bob = await newUser(base);
    await t.step("refused requests are not remembered, whatever their number", async () => {
      for (let i = 0; i < 300; i++) {
        const result = await close(bob.token, opened[0]!, `probe-${i}`);
        assert.equal(result.status, 404);
      }
      const state = await snapshotAfterNow(env);
      assert.deepEqual(keysOf(state, bob.userId), []);
    });

    await t.step("a key reused for another request is 422 and changes nothing", async () => {
      const first = await close(alice.token, opened[0]!, "close-key");
      assert.equal(first.status, 200);
      const other = await close(alice.token, opened[1]!, "close-key");
      assert.equal(other.status, 422);
      assert.equal(other.body.error?.code, "idempotency_key_reused");
      const asCreate = await create(alice.token, long, "close-key");
      assert.equal(asCreate.body.error?.code, "idempotency_key_reused");
      assert.deepEqual(
        (await openTrades(alice.token)).trades.map((trade) => trade.orderId),
        opened.slice(1),
      );
      const same = await close(alice.token, opened[0]!, "close-key");
      assert.deepEqual(same.body, first.body);
    });

    await t.step("at most 1,000 keys per account, the oldest forgotten first", async () => {
      const carol = await newUser(base);
      const changes = 1_010;
      for (let i = 0; i < changes / 2; i++) {
        const made = await create(carol.token, long, `k-${2 * i}`);
        assert.equal(made.status, 200, JSON.stringify(made.body));
        const closed = await close(carol.token, made.body.orderId as string, `k-${2 * i + 1}`);
        assert.equal(closed.status, 200, JSON.stringify(closed.body));
      }
      const keys = keysOf(await snapshotAfterNow(env), carol.userId);
      assert.equal(keys.length, 1_000);
      assert.equal(keys[0], `k-${changes - 1_000}`);
      assert.equal(keys.at(-1), `k-${changes - 1}`);
      // k-0 was forgotten: another request under it is evaluated, not refused as reused.
      const fresh = await create(carol.token, { ...long, margin: 2000 }, "k-0");
      assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
    });

    await t.step("a 504 names the key the API made, and a retry with it opens once", async () => {
      const dave = await newUser(base);
      const engine = env.processes.find((p) => p.name === "engine")!;
      await engine.kill("SIGKILL");
      const timedOut = await create(dave.token, long);
      assert.equal(timedOut.status, 504);
      const key = timedOut.body.idempotencyKey as string;
      assert.match(key, /^api-/);
      assert.equal(timedOut.headers.get("idempotency-key"), key);
      await env.startEngine();
      const retried = await eventually("the retry's answer", async () => {
        const result = await create(dave.token, long, key);
        return result.status === 200 ? result : undefined;
      });
      const open = await openTrades(dave.token);
      assert.deepEqual(open.trades.map((trade) => trade.orderId), [retried.body.orderId]);
    });

    await t.step("a new MAX_OPEN_POSITIONS takes effect at restart, in the stream", async () => {
      const engine = env.processes.filter((p) => p.name === "engine").at(-1)!;
      await engine.kill("SIGTERM");
      const restarted = await env.startEngine({ MAX_OPEN_POSITIONS: "5" });
      assert.ok(restarted.output.some((line) => line.includes('"parameters changed"')));
      let opened = (await openTrades(alice.token)).trades.length;
      for (; opened < 5; opened++) assert.equal((await create(alice.token, long)).status, 200);
      assert.equal((await create(alice.token, long)).body.error?.code, "too_many_positions");
      const state = await snapshotAfterNow(env);
      assert.equal(state.params.maxOpenPositions, 5);
    });
  });
});
