/** `GET /candles` through `app.request()`: its validation, its defaults, its answer's shape. */
import assert from "node:assert/strict";
import postgres from "postgres";
import { migrate, withDatabase } from "@trading/shared/db";
import { createLogger } from "@trading/shared/log";
import { buildApp } from "./app.ts";
import { argon2id } from "./auth/passwords.ts";
import { postgresCandles } from "./stores/candles.ts";
import { postgresHistory } from "./stores/history.ts";
import { postgresUsers } from "./stores/users.ts";
import { InProcessEngine } from "./testing/in_process_engine.ts";

const ADMIN = Deno.env.get("TEST_ADMIN_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/postgres";
const T = Date.UTC(2026, 0, 1);

Deno.test("GET /candles: 400 for every bad parameter, pages oldest first, no auth", async () => {
  const name = `c_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres(ADMIN, { onnotice: () => {}, max: 1 });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const sql = postgres(withDatabase(ADMIN, name), { onnotice: () => {}, max: 2 });
  try {
    await migrate(sql);
    // 1,200 minutes of SOL (4 decimals) and one BTC 1h candle.
    for (let start = 0; start < 1200; start += 400) {
      const ts = Array.from({ length: 400 }, (_, i) => T + (start + i) * 60_000);
      await sql`INSERT INTO candles (interval, asset, t, o, h, l, c, n, source)
        SELECT '1m', 'SOL', t, 1500000, 1500500, 1499000, 1500100, 3, 'bid'
        FROM unnest(${sql.array(ts.map(String))}::bigint[]) AS t`;
    }
    await sql`INSERT INTO candles (interval, asset, t, o, h, l, c, n, source)
      VALUES ('1h', 'BTC', ${T}, 9700050, 9800000, 9600000, 9750000, 42, 'rollup')`;
    const app = buildApp({
      engine: new InProcessEngine(),
      users: postgresUsers(sql),
      history: postgresHistory(sql),
      candles: postgresCandles(sql),
      passwords: argon2id,
      jwtSecret: "candles-test-secret-candles-test-secret-01",
      log: createLogger("test", "error"),
      health: () => Promise.resolve({ redis: true, postgres: true, engine: true }),
      // This test reads more than a client may in a burst (see the next test).
      candleReadRate: { perSecond: 1e9, burst: 1e9 },
    });
    const get = async (query: string) => {
      const response = await app.request(`/api/v1/candles${query}`);
      return { status: response.status, body: await response.json() };
    };

    for (
      const bad of [
        "",
        "?interval=1m",
        "?asset=BTC",
        "?asset=btc&interval=1m",
        "?asset=DOGE&interval=1m",
        "?asset=BTC&interval=2m",
        "?asset=BTC&interval=1M",
        "?asset=BTC&interval=1m&limit=0",
        "?asset=BTC&interval=1m&limit=1001",
        "?asset=BTC&interval=1m&limit=-1",
        "?asset=BTC&interval=1m&limit=1.5",
        "?asset=BTC&interval=1m&limit=abc",
        "?asset=BTC&interval=1m&before=-5",
        "?asset=BTC&interval=1m&before=1e12",
        "?asset=BTC&interval=1m&before=9999999999999999",
      ]
    ) {
      const answer = await get(bad);
      assert.equal(answer.status, 400, `${bad}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error.code, "invalid_request", bad);
    }

    const all = await get("?asset=SOL&interval=1m");
    assert.equal(all.status, 200);
    assert.equal(all.body.candles.length, 500, "limit defaults to 500");
    assert.equal(all.body.candles.at(-1).t, T + 1199 * 60_000, "the newest last");
    assert.equal(all.body.candles[0].t, T + 700 * 60_000, "oldest first");
    assert.deepEqual(all.body.candles[0], {
      t: T + 700 * 60_000,
      o: "150",
      h: "150.05",
      l: "149.9",
      c: "150.01",
      n: 3,
    });
    assert.equal((await get("?asset=SOL&interval=1m&limit=1000")).body.candles.length, 1000);
    assert.equal((await get("?asset=SOL&interval=1m&limit=1")).body.candles.length, 1);
    const before = await get(`?asset=SOL&interval=1m&limit=3&before=${T + 3 * 60_000}`);
    assert.deepEqual(before.body.candles.map((c: { t: number }) => c.t), [
      T,
      T + 60_000,
      T + 120_000,
    ]);
    const hour = await get("?asset=BTC&interval=1h");
    assert.deepEqual(hour.body.candles, [{
      t: T,
      o: "97000.5",
      h: "98000",
      l: "96000",
      c: "97500",
      n: 42,
    }]);
    assert.deepEqual((await get("?asset=ETH&interval=1d")).body, { candles: [] });
  } finally {
    await sql.end();
    await admin.unsafe(`DROP DATABASE ${name} WITH (FORCE)`);
    await admin.end();
  }
});

Deno.test("GET /candles: each client address reads at most its burst, then 429 with Retry-After", async () => {
  let nowMs = 1_000_000;
  const unused = new Proxy({}, { get: () => () => Promise.reject(new Error("not used")) });
  const app = buildApp({
    engine: new InProcessEngine(),
    users: unused as never,
    history: unused as never,
    passwords: argon2id,
    jwtSecret: "candles-test-secret-candles-test-secret-01",
    log: createLogger("test", "error"),
    health: () => Promise.resolve({ redis: true, postgres: true, engine: true }),
    candleReadRate: { perSecond: 1, burst: 3 },
    nowMs: () => nowMs,
  });
  const status = async () => {
    const response = await app.request("/api/v1/candles?asset=BTC&interval=1m");
    await response.body?.cancel();
    return { status: response.status, retryAfter: response.headers.get("retry-after") };
  };
  // No candle store here: 503 once past the limit, which is checked first, before any work.
  for (let i = 0; i < 3; i++) assert.equal((await status()).status, 503);
  assert.deepEqual(await status(), { status: 429, retryAfter: "1" });
  nowMs += 1_000;
  assert.equal((await status()).status, 503, "a token back a second later");
  assert.equal((await status()).status, 429);
});
