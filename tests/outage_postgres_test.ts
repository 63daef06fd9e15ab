/**
 * Postgres down for 30 s: trading goes on, signup and signin answer 503 at once, and once it
 * is back, snapshots and trade history catch up with nothing lost.
 */
import { ENGINE_STATUS_KEY } from "@trading/shared/redis";
import assert from "node:assert/strict";
import { eventually, http, newUser, sleep, withEnv } from "./harness.ts";
import { startPrivatePostgres } from "./private_postgres.ts";

const OUTAGE_MS = 30_000;

Deno.test("Postgres down for 30 s: trading continues, auth answers 503, history catches up", async () => {
  const pg = await startPrivatePostgres();
  try {
    await withEnv({ DATABASE_URL: pg.url, SNAPSHOT_INTERVAL_MS: "1000" }, async (env) => {
      await env.startAll();
      const base = env.api;
      const user = await newUser(base);
      await eventually(
        "prices",
        async () =>
          (await http<{ prices: unknown[] }>(base, "GET", "/prices")).body.prices.length === 3,
      );
      const trade = { asset: "SOL", type: "short", margin: 500, leverage: 3, slippage: 500 };

      await pg.stop();
      const stoppedAt = Date.now();
      const closedDuringOutage: string[] = [];
      let authChecks = 0;
      while (Date.now() - stoppedAt < OUTAGE_MS) {
        const opened = await http<{ orderId: string }>(base, "POST", "/trade/create", {
          token: user.token,
          body: trade,
        });
        assert.equal(opened.status, 200, `trading stopped: ${JSON.stringify(opened.body)}`);
        const closed = await http(base, "POST", "/trade/close", {
          token: user.token,
          body: { orderId: opened.body.orderId },
        });
        assert.equal(closed.status, 200);
        closedDuringOutage.push(opened.body.orderId);
        if (authChecks < 5) {
          authChecks++;
          const started = Date.now();
          const signup = await http(base, "POST", "/signup", {
            body: { email: `late-${crypto.randomUUID()}@example.com`, password: "password123" },
          });
          const signin = await http(base, "POST", "/signin", {
            body: { email: user.email, password: "x".repeat(8) },
          });
          assert.equal(signup.status, 503, JSON.stringify(signup.body));
          assert.equal(signin.status, 503, JSON.stringify(signin.body));
          assert.ok(Date.now() - started < 3000, "auth hung while Postgres was down");
          assert.equal((await http(base, "GET", "/health")).status, 503);
        }
        await sleep(500);
      }
      const snapshotsBefore = await env.redis.hget(ENGINE_STATUS_KEY, "stateHashId");
      await pg.start();

      const rows = await eventually("history of the outage's closes", async () => {
        const result = await env.sql<{ order_id: string }[]>`SELECT order_id::text FROM trades`
          .catch(() => []);
        return result.length >= closedDuringOutage.length ? result : undefined;
      }, 20_000);
      assert.deepEqual(rows.map((r) => r.order_id).sort(), [...closedDuringOutage].sort());
      await eventually(
        "a snapshot after the outage",
        async () => (await env.redis.hget(ENGINE_STATUS_KEY, "stateHashId")) !== snapshotsBefore,
        15_000,
      );
      await eventually(
        "healthy again",
        async () => (await http(base, "GET", "/health")).status === 200,
        15_000,
      );
      const signup = await http(base, "POST", "/signup", {
        body: { email: `after-${crypto.randomUUID()}@example.com`, password: "password123" },
      });
      assert.equal(signup.status, 201);
      console.log(
        `Postgres outage: ${closedDuringOutage.length} trades opened and closed during ${
          OUTAGE_MS / 1000
        } s, all in history after`,
      );
    });
  } finally {
    await pg.destroy();
  }
});
