/**
 * Redis restarted under load (AOF on): while it is down the API answers 503 at once, nothing
 * hangs; within 5 s of its return everything trades again, and the engine neither skipped nor
 * re-applied an entry (its hash equals a replay of the stream).
 */
import { ENGINE_STATUS_KEY, INPUT_STREAM } from "@trading/shared/redis";
import assert from "node:assert/strict";
import { allOpenTrades, eventually, http, newUser, sleep, withEnv, WsClient } from "./harness.ts";
import { startPrivateRedis } from "./private_redis.ts";

Deno.test("Redis restarted under load: quick 503s, back within 5 s, nothing skipped or doubled", async () => {
  const redis = await startPrivateRedis();
  try {
    await withEnv(
      // A request whose answer Redis took down with it waits ENGINE_TIMEOUT_MS for its 504:
      // shorter than the outage, so no trader sits out the whole of it.
      { REDIS_URL: redis.url, SNAPSHOT_INTERVAL_MS: "500", ENGINE_TIMEOUT_MS: "1000" },
      async (env) => {
        await env.startAll();
        const base = env.api;
        const users = await Promise.all([newUser(base), newUser(base), newUser(base)]);
        await eventually(
          "prices",
          async () =>
            (await http<{ prices: unknown[] }>(base, "GET", "/prices")).body.prices.length === 3,
        );

        const results: Array<{ status: number; ms: number; at: number; orderId?: string }> = [];
        let running = true;
        const trader = async (token: string) => {
          while (running) {
            const started = Date.now();
            const result = await http<{ orderId?: string }>(base, "POST", "/trade/create", {
              token,
              body: { asset: "ETH", type: "long", margin: 100, leverage: 2, slippage: 500 },
            }).catch(() => ({ status: 0, body: {} as { orderId?: string } }));
            results.push({
              status: result.status,
              ms: Date.now() - started,
              at: started,
              orderId: result.body.orderId,
            });
            await sleep(20);
          }
        };
        const traders = [...users, ...users].map((u) => trader(u.token));
        await sleep(1500);
        const downAt = Date.now();
        await redis.stop();
        await sleep(2500);
        await redis.start();
        const upAt = Date.now();
        const recovered = await eventually(
          "a trade after Redis returned",
          () => results.find((r) => r.at > upAt && r.status === 200),
          // Within 5 s, as the docstring says (a loading Redis is asked again every 200 ms,
          // not after the ETA it gives: see connectRedis).
          5_000,
        );
        // The poller and the gateway are back too: fresh prices reach a new WebSocket client.
        const ws = await WsClient.connect(`ws://127.0.0.1:${env.ports.gateway}/ws`);
        ws.send({ type: "subscribe", channels: ["prices"] });
        await eventually(
          "a fresh price over the gateway within 5 s",
          () => ws.messages.some((m) => m.type === "price" && Number(m.ts) > upAt),
          5000,
        );
        ws.close();
        await sleep(1000);
        running = false;
        await Promise.all(traders);

        const during = results.filter((r) => r.at > downAt + 200 && r.at < upAt - 200);
        assert.ok(during.length > 10, `only ${during.length} requests while Redis was down`);
        for (const r of during) {
          assert.ok(
            r.status === 503 || r.status === 504,
            `status ${r.status} while Redis was down`,
          );
          assert.ok(r.ms < 1000, `a request hung ${r.ms} ms while Redis was down`);
        }
        assert.ok(
          recovered.at - upAt < 5000,
          `trading resumed ${recovered.at - upAt} ms after Redis returned`,
        );
        assert.ok(results.filter((r) => r.status === 200).length > 20);
        assert.ok(
          results.every((r) => r.status !== 500 && r.status !== 0),
          "a request failed outright",
        );

        // Nothing skipped or doubled: every acknowledged order is open exactly once, and the
        // engine's state hash equals a replay of the stream.
        const acknowledged = results.filter((r) => r.status === 200).map((r) => r.orderId);
        const open = (await Promise.all(users.map((u) => allOpenTrades(base, u.token))))
          .flat().map((trade) => trade.orderId);
        for (const id of acknowledged) {
          assert.equal(open.filter((o) => o === id).length, 1, `order ${id}`);
        }
        // Quiet the stream so the engine's last snapshot holds still (with entries flowing it
        // snapshots and trims behind itself every 500 ms, under the replay's feet).
        await env.processes.find((p) => p.name === "poller")!.kill();
        const status = await eventually("a snapshot of the final state", async () => {
          const s = await env.redis.hgetall(ENGINE_STATUS_KEY);
          const [last] = await env.redis.xrevrange(INPUT_STREAM, "+", "-", "COUNT", 1);
          return s.stateHashId && s.stateHashId > String(upAt) && s.stateHashId === last?.[0]
            ? s
            : undefined;
        }, 15_000);
        const replay = env.spawn("replay", "engine/replay.ts", {}, [
          "--until",
          status.stateHashId!,
        ]);
        await replay.child.status;
        await sleep(50);
        assert.ok(
          replay.output.includes(`last id    ${status.stateHashId}`),
          replay.output.join("\n"),
        );
        assert.ok(
          replay.output.includes(`state hash ${status.stateHash}`),
          replay.output.join("\n"),
        );
        console.log(
          `Redis outage: ${results.length} requests, ${during.length} while down (all 503/504, max ` +
            `${Math.max(...during.map((r) => r.ms))} ms), trading back ${
              recovered.at - upAt
            } ms after restart`,
        );
      },
    );
  } finally {
    await redis.destroy();
  }
});
