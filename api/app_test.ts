/**
 * The HTTP layer through `app.request()`: real Postgres for users and history, the real engine
 * core in process for answers.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { migrate, tradeRow, withDatabase } from "@trading/shared/db";
import { createLogger } from "@trading/shared/log";
import { buildApp } from "./app.ts";
import { argon2id } from "./auth/passwords.ts";
import { postgresHistory } from "./stores/history.ts";
import { postgresUsers } from "./stores/users.ts";
import { InProcessEngine } from "./testing/in_process_engine.ts";

const ADMIN = Deno.env.get("TEST_ADMIN_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/postgres";
const SECRET = "app-test-secret-app-test-secret-0123456";

async function setup(overrides: Partial<ApiDeps> = {}) {
  const name = `a_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres(ADMIN, { onnotice: () => {}, max: 1 });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const sql = postgres(withDatabase(ADMIN, name), {
    onnotice: () => {},
    max: 2,
  });
  await migrate(sql);
  await migrate(sql); // idempotent
  const engine = new InProcessEngine();
  const app = buildApp({
    engine,
    users: postgresUsers(sql),
    history: postgresHistory(sql),
    passwords: argon2id,
    jwtSecret: SECRET,
    log: createLogger("test", "error"),
    health: () => Promise.resolve({ redis: true, postgres: true, engine: true }),
    corsOrigins: ["https://app.example.com"],
    ...overrides,
  });
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    token?: string,
    headers = {},
  ) => {
    const response = await app.request(`/api/v1${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: response.status, text: await response.text(), headers: response.headers };
  };
  const close = async () => {
    await sql.end();
    await admin.unsafe(`DROP DATABASE ${name} WITH (FORCE)`);
    await admin.end();
  };
  return { app, engine, call, close, sql };
}

Deno.test("HTTP layer: signup to close through app.request()", async (t) => {
  const { app, engine, call, close } = await setup();
  try {
    const email = "Trader@Example.com";
    const signup = await call("POST", "/signup", { email, password: "password123" });
    assert.equal(signup.status, 201);
    const signin = await call("POST", "/signin", {
      email: email.toLowerCase(),
      password: "password123",
    });
    const { token } = JSON.parse(signin.text);
    engine.setQuote("BTC", 9_699_950n, 9_700_050n);

    await t.step("cents are JSON numbers written from exact digits", async () => {
      const opened = await call(
        "POST",
        "/trade/create",
        {
          asset: "BTC",
          type: "long",
          margin: 10000,
          leverage: 10,
          slippage: 100,
        },
        token,
        { "idempotency-key": "k1" },
      );
      assert.equal(opened.status, 200);
      assert.match(opened.text, /"margin":10000,/);
      assert.equal(JSON.parse(opened.text).quantity, "0.01030922");
      const repeat = await call(
        "POST",
        "/trade/create",
        {
          asset: "BTC",
          type: "long",
          margin: 10000,
          leverage: 10,
          slippage: 100,
        },
        token,
        { "idempotency-key": "k1" },
      );
      assert.equal(repeat.status, 200);
      assert.equal(repeat.text, opened.text);
      const balance = await call("GET", "/balance", undefined, token);
      assert.equal(
        balance.text,
        '{"usd":{"balance":490000,"locked":10000,"pending":0,"equity":499998,"marginLevel":"4999.98","decimals":2}}',
      );
      // The open paid no fee (FEE_BPS 0 by default), and says so.
      assert.equal(JSON.parse(opened.text).fee, 0);
      assert.match(JSON.parse(opened.text).warningPrice, /^\d+(\.\d+)?$/);
    });

    await t.step("a malformed Idempotency-Key is a 400 naming the header", async () => {
      const body = { asset: "BTC", type: "long", margin: 100, leverage: 1, slippage: 100 };
      for (const key of ["x".repeat(65), "has space", "é"]) {
        const refused = await call("POST", "/trade/create", body, token, {
          "idempotency-key": key,
        });
        assert.equal(refused.status, 400, key);
        const error = JSON.parse(refused.text).error;
        assert.equal(error.code, "invalid_request");
        assert.equal(error.issues[0].path, "idempotency-key");
      }
      const close = await call("POST", "/trade/close", { orderId: "1" }, token, {
        "idempotency-key": "bad key",
      });
      assert.equal(close.status, 400);
    });

    await t.step(
      "a refusal is not remembered; a key reused for another request is 422",
      async () => {
        const body = { asset: "BTC", type: "long", margin: 900000, leverage: 1, slippage: 100 };
        const headers = { "idempotency-key": "k2" };
        const first = await call("POST", "/trade/create", body, token, headers);
        assert.equal(first.status, 422);
        assert.equal(JSON.parse(first.text).error.code, "insufficient_balance");
        assert.equal(first.headers.get("idempotency-key"), "k2");
        const fits = await call("POST", "/trade/create", { ...body, margin: 100 }, token, headers);
        assert.equal(fits.status, 200, fits.text);
        const other = await call("POST", "/trade/create", { ...body, margin: 200 }, token, headers);
        assert.equal(other.status, 422);
        assert.equal(JSON.parse(other.text).error.code, "idempotency_key_reused");
        const asClose = await call("POST", "/trade/close", { orderId: "1" }, token, headers);
        assert.equal(asClose.status, 422);
        assert.equal(JSON.parse(asClose.text).error.code, "idempotency_key_reused");
        const again = await call("POST", "/trade/create", { ...body, margin: 100 }, token, headers);
        assert.equal(again.status, 200);
        assert.equal(JSON.parse(again.text).orderId, JSON.parse(fits.text).orderId);
      },
    );

    await t.step("a create or close without a key gets one from the API", async () => {
      const body = { asset: "BTC", type: "long", margin: 100, leverage: 1, slippage: 100 };
      const made = await call("POST", "/trade/create", body, token);
      assert.equal(made.status, 200);
      const key = made.headers.get("idempotency-key");
      assert.match(key ?? "", /^api-[0-9a-f-]{36}$/);
      const retried = await call("POST", "/trade/create", body, token, { "idempotency-key": key! });
      assert.equal(JSON.parse(retried.text).orderId, JSON.parse(made.text).orderId);
      const refused = await call("POST", "/trade/close", { orderId: "999" }, token);
      assert.equal(refused.status, 404);
      assert.match(refused.headers.get("idempotency-key") ?? "", /^api-/);
      // Answers that never reached the engine name the key too: a retry is always safe.
      const invalid = await call("POST", "/trade/create", { asset: "BTC" }, token);
      assert.equal(invalid.status, 400);
      assert.match(invalid.headers.get("idempotency-key") ?? "", /^api-/);
      const anonymous = await call("POST", "/trade/close", { orderId: "1" }, undefined, {
        "idempotency-key": "mine",
      });
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.headers.get("idempotency-key"), "mine");
    });

    await t.step("security headers and the error shape", async () => {
      const response = await call("GET", "/supportedAssets");
      assert.equal(response.headers.get("x-content-type-options"), "nosniff");
      assert.equal(JSON.parse(response.text).assets.length, 3);
      const bad = await call("POST", "/trade/create", { asset: "BTC" }, token);
      const error = JSON.parse(bad.text).error;
      assert.equal(error.code, "invalid_request");
      assert.ok(Array.isArray(error.issues) && error.issues.length > 0);
    });

    await t.step("bodies over 64 KiB are refused, declared or streamed", async () => {
      const order = { asset: "BTC", type: "long", margin: 100, leverage: 1, slippage: 100 };
      const big = JSON.stringify({ ...order, pad: "x".repeat(70 * 1024) });
      const declared = await call("POST", "/trade/create", big, token, {
        "content-length": String(big.length),
      });
      assert.equal(declared.status, 413);
      const stream = (text: string) =>
        new Blob([text]).stream() as ReadableStream<Uint8Array<ArrayBuffer>>;
      const post = (text: string) =>
        app.request("/api/v1/trade/create", {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: stream(text),
        });
      const streamed = await post(big);
      assert.equal(streamed.status, 413);
      assert.equal(JSON.parse(await streamed.text()).error.code, "payload_too_large");
      const small = await post(JSON.stringify(order));
      assert.equal(small.status, 200, await small.text());
    });
  } finally {
    await close();
  }
});

type Json = Record<string, unknown>;

Deno.test("orders beyond market: pending, modify, cancel, partial close, closeAll", async (t) => {
  // Many calls in one second: the limits are tested on their own below.
  const unlimited = { perSecond: 100_000, burst: 100_000 };
  const { engine, call, close, sql } = await setup({ tradeRate: unlimited, userRate: unlimited });
  try {
    const user = async (email: string) => {
      const credentials = { email, password: "password123" };
      const { userId } = JSON.parse((await call("POST", "/signup", credentials)).text);
      const { token } = JSON.parse((await call("POST", "/signin", credentials)).text);
      return { userId: userId as string, token: token as string };
    };
    const alice = await user("alice@example.com");
    const bob = await user("bob@example.com");
    const post = async (path: string, body: unknown, key?: string, token = alice.token) => {
      const result = await call("POST", path, body, token, key ? { "idempotency-key": key } : {});
      return { ...result, json: JSON.parse(result.text) };
    };
    const get = async (path: string, token = alice.token) => {
      const result = await call("GET", path, undefined, token);
      return { ...result, json: JSON.parse(result.text) };
    };
    const refused = (
      result: { status: number; text: string; json: Json },
      status: number,
      code: string,
      what: string,
    ) => {
      assert.equal(result.status, status, `${what}: ${result.text}`);
      assert.equal((result.json.error as Json).code, code, what);
    };
    type Usd = { balance: number; locked: number; pending: number; equity: number };
    const balance = async () => (await get("/balance")).json.usd as Usd;
    const pnls: number[] = [];
    engine.setQuote("BTC", 9_699_950n, 9_700_050n); // 96999.5 / 97000.5
    engine.setQuote("SOL", 1_500_000n, 1_500_200n); // 150 / 150.02
    const btc = { asset: "BTC", type: "long", margin: 10000, leverage: 10 };
    let pending1 = "", filledAtOnce = "", short = "", pending2 = "", stop = "", createdAt = 0;

    await t.step("create: every order type, its fields and refusals", async () => {
      const invalid: Array<[string, Json]> = [
        ["limit without triggerPrice", { ...btc, orderType: "limit" }],
        ["limit with slippage", {
          ...btc,
          orderType: "limit",
          triggerPrice: "96000",
          slippage: 100,
        }],
        ["stop with price", { ...btc, orderType: "stop", triggerPrice: "99000", price: "97000" }],
        ["market with triggerPrice", { ...btc, slippage: 100, triggerPrice: "96000" }],
        ["market with expiresAt", { ...btc, slippage: 100, expiresAt: 1_800_000_000_000 }],
        ["market without slippage", { ...btc }],
        ["explicit market without slippage", { ...btc, orderType: "market" }],
        ["unknown orderType", { ...btc, orderType: "iceberg", triggerPrice: "96000" }],
        ["triggerPrice past BTC's 2 decimals", {
          ...btc,
          orderType: "limit",
          triggerPrice: "96000.001",
        }],
        ["zero triggerPrice", { ...btc, orderType: "limit", triggerPrice: "0" }],
        ["numeric triggerPrice", { ...btc, orderType: "limit", triggerPrice: 96000 }],
        ["expiresAt 0", { ...btc, orderType: "limit", triggerPrice: "96000", expiresAt: 0 }],
        ["fractional expiresAt", {
          ...btc,
          orderType: "limit",
          triggerPrice: "96000",
          expiresAt: 1.5,
        }],
        ["textual expiresAt", {
          ...btc,
          orderType: "limit",
          triggerPrice: "96000",
          expiresAt: "1800000000000",
        }],
      ];
      for (const [what, body] of invalid) {
        refused(await post("/trade/create", body), 400, "invalid_request", what);
      }
      const limit = { ...btc, orderType: "limit" };
      refused(
        await post("/trade/create", { ...btc, orderType: "stop", triggerPrice: "96000" }),
        422,
        "invalid_trigger",
        "a long stop below the ask already holds",
      );
      refused(
        await post("/trade/create", { ...limit, triggerPrice: "96000", stopLoss: "96500" }),
        422,
        "invalid_trigger",
        "a long's stop-loss above its trigger",
      );
      refused(
        await post("/trade/create", { ...limit, triggerPrice: "96000", margin: 600000 }),
        422,
        "insufficient_balance",
        "more margin than the balance",
      );

      const body = {
        ...limit,
        triggerPrice: "96000",
        stopLoss: "90000",
        takeProfit: "100000",
        expiresAt: 1_800_000_000_000,
      };
      const placed = await post("/trade/create", body, "p1");
      assert.equal(placed.status, 200, placed.text);
      assert.deepEqual(
        Object.keys(placed.json).sort(),
        [
          "orderId",
          "status",
          "orderType",
          "asset",
          "type",
          "margin",
          "leverage",
          "triggerPrice",
          "stopLoss",
          "takeProfit",
          "expiresAt",
          "createdAt",
        ].sort(),
      );
      assert.match(placed.text, /"status":"pending","orderType":"limit",.*"margin":10000,/);
      assert.equal(placed.json.triggerPrice, "96000");
      pending1 = placed.json.orderId;
      createdAt = placed.json.createdAt;
      const again = await post("/trade/create", body, "p1");
      assert.equal(again.text, placed.text, "a retry returns the first answer");
      refused(
        await post("/trade/create", { ...body, triggerPrice: "95000" }, "p1"),
        422,
        "idempotency_key_reused",
        "another trigger under the same key",
      );

      const atOnce = await post("/trade/create", { ...limit, triggerPrice: "98000" });
      assert.equal(atOnce.status, 200, atOnce.text);
      assert.deepEqual(Object.keys(atOnce.json).slice(0, 3), ["orderId", "status", "asset"]);
      assert.equal(atOnce.json.status, "open", "a limit whose condition holds fills at once");
      assert.equal(atOnce.json.openPrice, "97000.5");
      assert.equal(atOnce.json.quantity, "0.01030922");
      filledAtOnce = atOnce.json.orderId;
      const market = await post("/trade/create", {
        asset: "BTC",
        type: "short",
        margin: 5000,
        leverage: 5,
        slippage: 100,
      });
      assert.equal(market.status, 200, market.text);
      assert.equal(market.json.status, "open");
      assert.equal(market.json.openPrice, "96999.5");
      short = market.json.orderId;

      const usd = await balance();
      assert.deepEqual([usd.balance, usd.locked, usd.pending], [475000, 15000, 10000]);
      const open = (await get("/trades/open")).json.trades as Json[];
      const unrealized = open.reduce((sum, trade) => sum + (trade.unrealizedPnl as number), 0);
      assert.equal(usd.equity, 500000 + unrealized, "equity counts the pending margin");
    });

    await t.step("GET /orders/pending pages like /trades/open", async () => {
      const shortLimit = await post("/trade/create", {
        asset: "BTC",
        type: "short",
        margin: 1000,
        leverage: 2,
        orderType: "limit",
        triggerPrice: "98000",
      });
      assert.equal(shortLimit.json.status, "pending", shortLimit.text);
      pending2 = shortLimit.json.orderId;
      const longStop = await post("/trade/create", {
        ...btc,
        margin: 1000,
        orderType: "stop",
        triggerPrice: "99000",
      });
      assert.equal(longStop.json.status, "pending", longStop.text);
      stop = longStop.json.orderId;

      const all = await get("/orders/pending");
      assert.equal(all.status, 200);
      const ids = (all.json.orders as Json[]).map((o) => o.orderId);
      assert.deepEqual(ids, [pending1, pending2, stop]);
      assert.equal(all.json.nextCursor, null);
      const first = await get("/orders/pending?limit=2");
      assert.deepEqual((first.json.orders as Json[]).map((o) => o.orderId), [pending1, pending2]);
      assert.equal(first.json.nextCursor, pending2);
      const next = await get(`/orders/pending?limit=2&cursor=${first.json.nextCursor}`);
      assert.deepEqual((next.json.orders as Json[]).map((o) => o.orderId), [stop]);
      assert.equal(next.json.nextCursor, null);
      for (const query of ["limit=501", "limit=0", "limit=x", "cursor=abc", "cursor=0"]) {
        refused(await get(`/orders/pending?${query}`), 400, "invalid_request", query);
      }
      assert.deepEqual((await get("/orders/pending", bob.token)).json.orders, []);
      assert.equal((await call("GET", "/orders/pending")).status, 401);
    });

    await t.step("POST /trade/modify: pending orders and positions", async () => {
      const modified = await post("/trade/modify", { orderId: pending1, stopLoss: "91000" }, "m1");
      assert.equal(modified.status, 200, modified.text);
      assert.equal(modified.json.status, "pending");
      assert.equal(modified.json.stopLoss, "91000");
      assert.equal(modified.json.takeProfit, "100000");
      assert.equal(
        (await post("/trade/modify", { orderId: pending1, stopLoss: "91000" }, "m1")).text,
        modified.text,
        "a retry returns the first answer",
      );
      refused(
        await post("/trade/modify", { orderId: pending1, stopLoss: "91000.5" }, "m1"),
        422,
        "idempotency_key_reused",
        "another level under the same key",
      );
      // null removes; absent keeps: two requests, two fingerprints.
      const removed = await post(
        "/trade/modify",
        { orderId: pending1, stopLoss: null, takeProfit: "100500" },
        "m2",
      );
      assert.equal(removed.status, 200, removed.text);
      assert.equal(removed.json.stopLoss, undefined);
      assert.equal(removed.json.takeProfit, "100500");
      refused(
        await post("/trade/modify", { orderId: pending1, takeProfit: "100500" }, "m2"),
        422,
        "idempotency_key_reused",
        "absent is not null",
      );
      refused(
        await post("/trade/modify", { orderId: pending1, stopLoss: "96500" }),
        422,
        "invalid_trigger",
        "a long's stop-loss above its trigger",
      );
      const invalid: Array<[string, Json]> = [
        ["no level", { orderId: pending1 }],
        ["numeric level", { orderId: pending1, stopLoss: 91000 }],
        ["past BTC's 2 decimals", { orderId: pending1, stopLoss: "91000.123" }],
        ["zero", { orderId: pending1, takeProfit: "0" }],
        ["bad orderId", { orderId: "x1", stopLoss: "1" }],
        ["unknown field", { orderId: pending1, stopLoss: "91000", price: "1" }],
      ];
      for (const [what, body] of invalid) {
        refused(await post("/trade/modify", body), 400, "invalid_request", what);
      }
      refused(
        await post("/trade/modify", { orderId: "99999", stopLoss: "1" }),
        404,
        "order_not_found",
        "no such order",
      );
      refused(
        await post("/trade/modify", { orderId: pending1, stopLoss: "1" }, undefined, bob.token),
        404,
        "order_not_found",
        "another user's order",
      );
      const position = await post("/trade/modify", { orderId: filledAtOnce, takeProfit: "99000" });
      assert.equal(position.status, 200, position.text);
      const open = (await get("/trades/open")).json.trades as Json[];
      const { status, ...view } = position.json;
      assert.equal(status, "open");
      assert.deepEqual(view, open.find((trade) => trade.orderId === filledAtOnce));
      assert.equal(position.json?.takeProfit, "99000");
      refused(
        await post("/trade/modify", { orderId: filledAtOnce, takeProfit: "96000" }),
        422,
        "invalid_trigger",
        "a long's take-profit below its exit quote",
      );
    });

    await t.step("POST /order/cancel", async () => {
      const before = await balance();
      const cancelled = await post("/order/cancel", { orderId: stop }, "c1");
      assert.equal(cancelled.status, 200, cancelled.text);
      assert.equal(
        cancelled.text,
        `{"orderId":"${stop}","status":"cancelled","balance":${before.balance + 1000}}`,
      );
      assert.equal((await post("/order/cancel", { orderId: stop }, "c1")).text, cancelled.text);
      refused(
        await post("/order/cancel", { orderId: pending2 }, "c1"),
        422,
        "idempotency_key_reused",
        "another order under the same key",
      );
      refused(
        await post("/order/cancel", { orderId: stop }, "c2"),
        409,
        "order_not_pending",
        "cancelled already",
      );
      refused(
        await post("/order/cancel", { orderId: filledAtOnce }),
        409,
        "order_not_pending",
        "an open position",
      );
      refused(await post("/order/cancel", { orderId: "99999" }), 404, "order_not_found", "none");
      refused(
        await post("/order/cancel", { orderId: pending2 }, undefined, bob.token),
        404,
        "order_not_found",
        "another user's order",
      );
      for (const body of [{}, { orderId: 5 }, { orderId: pending2, asset: "BTC" }]) {
        refused(await post("/order/cancel", body), 400, "invalid_request", JSON.stringify(body));
      }
      const made = await post("/order/cancel", { orderId: "99998" });
      assert.match(made.headers.get("idempotency-key") ?? "", /^api-/);
      const usd = await balance();
      assert.deepEqual([usd.balance, usd.pending], [before.balance + 1000, before.pending - 1000]);
    });

    await t.step("fills, expiry and GET /orders/history", async () => {
      engine.setQuote("BTC", 9_590_000n, 9_599_900n); // 95900 / 95999: the long limit fills
      const waiting = (await get("/orders/pending")).json.orders as Json[];
      assert.deepEqual(waiting.map((o) => o.orderId), [pending2]);
      const open = (await get("/trades/open")).json.trades as Json[];
      const filled = open.find((trade) => trade.orderId === pending1);
      assert.equal(filled?.openPrice, "95999", "filled at the ask");
      assert.equal(filled?.takeProfit, "100500");

      const expiring = await post("/trade/create", {
        ...btc,
        margin: 500,
        orderType: "limit",
        triggerPrice: "90000",
        expiresAt: createdAt + 1000,
      });
      assert.equal(expiring.json.expiresAt, createdAt + 1000, expiring.text);
      engine.tick(1500);
      engine.setQuote("BTC", 9_590_000n, 9_599_900n);
      const history = await get("/orders/history");
      assert.equal(history.status, 200, history.text);
      const orders = history.json.orders as Json[];
      assert.deepEqual(
        orders.map((o) => [o.orderId, o.status]),
        [[expiring.json.orderId, "expired"], [pending1, "filled"], [stop, "cancelled"]],
      );
      assert.deepEqual(Object.keys(orders[0]!), [
        "orderId",
        "orderType",
        "asset",
        "type",
        "margin",
        "leverage",
        "triggerPrice",
        "status",
        "createdAt",
        "endedAt",
      ]);
      assert.match(history.text, /"margin":500,/);
      assert.equal(orders[0]!.endedAt, createdAt + 1500);
      assert.equal(history.json.nextCursor, null);
      const first = await get("/orders/history?limit=2");
      assert.equal(first.json.nextCursor, pending1);
      const rest = await get(`/orders/history?limit=2&cursor=${pending1}`);
      assert.deepEqual((rest.json.orders as Json[]).map((o) => o.orderId), [stop]);
      assert.equal(rest.json.nextCursor, null);
      for (const query of ["limit=101", "limit=0", "cursor=abc"]) {
        refused(await get(`/orders/history?${query}`), 400, "invalid_request", query);
      }
      assert.deepEqual((await get("/orders/history", bob.token)).json.orders, []);
      assert.equal((await balance()).pending, 1000, "only the short limit still waits");
    });

    await t.step("POST /trade/close with a quantity closes that part", async () => {
      const part = await post("/trade/close", { orderId: filledAtOnce, quantity: "0.005" }, "pc1");
      assert.equal(part.status, 200, part.text);
      assert.deepEqual(Object.keys(part.json), [
        "orderId",
        "closedQuantity",
        "remainingQuantity",
        "closePrice",
        "pnl",
        "fee",
        "balance",
        "closedAt",
        "reason",
      ]);
      assert.equal(part.json.closedQuantity, "0.005");
      assert.equal(part.json.remainingQuantity, "0.00530922");
      assert.equal(part.json.closePrice, "95900");
      assert.equal(part.json.pnl, -551); // floor((95900 − 97000.5) × 0.005 × 100)
      assert.equal(part.json.reason, "manual");
      pnls.push(part.json.pnl);
      assert.equal(
        (await post("/trade/close", { orderId: filledAtOnce, quantity: "0.005" }, "pc1")).text,
        part.text,
      );
      assert.equal(
        (await post("/trade/close", { orderId: filledAtOnce, quantity: "0.00500" }, "pc1")).text,
        part.text,
        "the same quantity written otherwise is the same request",
      );
      refused(
        await post("/trade/close", { orderId: filledAtOnce, quantity: "0.004" }, "pc1"),
        422,
        "idempotency_key_reused",
        "another part under the same key",
      );
      refused(
        await post("/trade/close", { orderId: filledAtOnce }, "pc1"),
        422,
        "idempotency_key_reused",
        "all of it under the same key",
      );
      const rest = ((await get("/trades/open")).json.trades as Json[])
        .find((trade) => trade.orderId === filledAtOnce)!;
      assert.deepEqual([rest.quantity, rest.margin], ["0.00530922", 5150]);
      for (
        const [what, quantity] of [["zero", "0"], ["more than held", "1"], [
          "leaving 9 cents of margin",
          "0.0053",
        ]]
      ) {
        refused(
          await post("/trade/close", { orderId: filledAtOnce, quantity }),
          422,
          "invalid_quantity",
          what!,
        );
      }
      for (const quantity of ["0.000000001", "abc", 0.5, "-0.001", "1e-3", ""]) {
        refused(
          await post("/trade/close", { orderId: filledAtOnce, quantity }),
          400,
          "invalid_request",
          String(quantity),
        );
      }
      refused(
        await post(
          "/trade/close",
          { orderId: filledAtOnce, quantity: "0.001" },
          undefined,
          bob.token,
        ),
        404,
        "order_not_found",
        "another user's position",
      );
      const whole = await post("/trade/close", { orderId: short });
      assert.equal(whole.status, 200, whole.text);
      assert.equal(whole.json.remainingQuantity, "0");
      assert.equal(whole.json.closePrice, "95999", "a short exits at the ask");
      pnls.push(whole.json.pnl);
      refused(await post("/trade/close", { orderId: short }), 409, "order_closed", "closed");
      refused(
        await post("/trade/modify", { orderId: short, stopLoss: "99000" }),
        409,
        "order_closed",
        "modify of a closed position",
      );
    });

    await t.step("POST /trade/closeAll", async () => {
      const sol = await post("/trade/create", {
        asset: "SOL",
        type: "long",
        margin: 2000,
        leverage: 2,
        slippage: 100,
      });
      assert.equal(sol.status, 200, sol.text);
      const btcShort = await post("/trade/create", {
        asset: "BTC",
        type: "short",
        margin: 3000,
        leverage: 3,
        slippage: 100,
      });
      assert.equal(btcShort.status, 200, btcShort.text);
      const solOnly = await post("/trade/closeAll", { asset: "SOL" }, "ca1");
      assert.equal(solOnly.status, 200, solOnly.text);
      const closed = solOnly.json.closed as Json[];
      assert.deepEqual(closed.map((c) => c.orderId), [sol.json.orderId]);
      assert.deepEqual(Object.keys(closed[0]!), [
        "orderId",
        "closedQuantity",
        "remainingQuantity",
        "closePrice",
        "pnl",
        "fee",
        "balance",
        "closedAt",
        "reason",
      ]);
      assert.equal(closed[0]!.closePrice, "150");
      assert.equal(solOnly.json.balance, closed[0]!.balance);
      pnls.push(closed[0]!.pnl as number);
      assert.equal((await post("/trade/closeAll", { asset: "SOL" }, "ca1")).text, solOnly.text);
      refused(
        await post("/trade/closeAll", {}, "ca1"),
        422,
        "idempotency_key_reused",
        "all assets under the SOL call's key",
      );
      for (const body of [{ asset: "DOGE" }, { asset: 1 }, { orderId: "1" }, []]) {
        refused(await post("/trade/closeAll", body), 400, "invalid_request", JSON.stringify(body));
      }

      engine.tick(6000); // past PRICE_MAX_AGE_MS: no quote is tradable
      const openBefore = ((await get("/trades/open")).json.trades as Json[]).length;
      refused(await post("/trade/closeAll", {}), 422, "stale_price", "stale quotes");
      assert.equal(((await get("/trades/open")).json.trades as Json[]).length, openBefore);
      engine.setQuote("BTC", 9_590_000n, 9_599_900n);

      const all = await post("/trade/closeAll", {}, "ca2");
      assert.equal(all.status, 200, all.text);
      const every = all.json.closed as Json[];
      assert.deepEqual(
        every.map((c) => c.orderId),
        [filledAtOnce, pending1, btcShort.json.orderId].sort((a, b) => Number(a) - Number(b)),
      );
      for (const c of every) {
        assert.equal(c.remainingQuantity, "0");
        assert.equal(c.reason, "manual");
        pnls.push(c.pnl as number);
      }
      const rest = every.find((c) => c.orderId === filledAtOnce);
      assert.equal(rest?.closedQuantity, "0.00530922", "the rest of the partly closed one");
      assert.equal((await post("/trade/closeAll", {}, "ca2")).text, all.text);
      const none = await post("/trade/closeAll", {});
      assert.equal(none.status, 200);
      assert.deepEqual(none.json, { closed: [], balance: all.json.balance });
    });

    await t.step("the money adds up: 500000 + realized PnL", async () => {
      const cancelled = await post("/order/cancel", { orderId: pending2 });
      assert.equal(cancelled.status, 200, cancelled.text);
      const usd = await balance();
      const realized = pnls.reduce((sum, pnl) => sum + pnl, 0);
      assert.deepEqual(usd, {
        balance: 500000 + realized,
        locked: 0,
        pending: 0,
        equity: 500000 + realized,
        marginLevel: null,
        decimals: 2,
      });
      assert.equal(cancelled.json.balance, usd.balance);
    });

    await t.step(
      "POST /balance/reset: the starting credit again, never with positions",
      async () => {
        assert.notEqual((await balance()).balance, 500000, "trading moved the balance");
        const opened = await post("/trade/create", { ...btc, slippage: 100 });
        assert.equal(opened.status, 200, opened.text);
        refused(await post("/balance/reset", {}, "r1"), 409, "positions_open", "a position open");
        const level = (await get("/balance")).json.usd.marginLevel;
        assert.match(level, /^\d+\.\d\d$/, "a margin level while a position is open");
        assert.equal((await post("/trade/close", { orderId: opened.json.orderId })).status, 200);
        const placed = await post("/trade/create", {
          ...btc,
          orderType: "limit",
          triggerPrice: "90000",
        });
        assert.equal(placed.status, 200, placed.text);
        refused(await post("/balance/reset", {}), 409, "positions_open", "a pending order");
        assert.equal((await post("/order/cancel", { orderId: placed.json.orderId })).status, 200);
        refused(await post("/balance/reset", [1]), 400, "invalid_request", "a body");
        // The key refused above was not remembered: the same key now resets.
        const reset = await post("/balance/reset", {}, "r1");
        assert.equal(reset.status, 200, reset.text);
        assert.equal(reset.text, '{"balance":500000}');
        assert.equal(reset.headers.get("idempotency-key"), "r1");
        assert.equal((await post("/balance/reset", {}, "r1")).text, reset.text, "a repeat");
        const usd = await balance();
        assert.equal(usd.balance, 500000);
        assert.equal(usd.equity, 500000);
        // No body and no content type: still a reset (the body is optional).
        const bare = await call("POST", "/balance/reset", undefined, alice.token);
        assert.equal(bare.status, 200, bare.text);
        // A body without a JSON content type is refused, as on every POST.
        const texted = await call("POST", "/balance/reset", "{}", alice.token, {
          "content-type": "text/plain",
          "content-length": "2",
        });
        assert.equal(texted.status, 415, texted.text);
      },
    );

    await t.step("GET /trades pages by closeId: several closes of one order", async () => {
      const close = (closeId: string, orderId: string, closedAt: number, quantity: string) =>
        tradeRow(alice.userId, closeId.split("-").slice(0, 2).join("-"), {
          orderId,
          asset: "BTC",
          type: "long",
          margin: "10000",
          leverage: 10,
          openPrice: "97000.5",
          quantity: "0.01030922",
          liquidationPrice: "87785.5",
          openedAt: 1_700_000_000_000,
          closeId,
          closedQuantity: quantity,
          remainingQuantity: "0",
          releasedMargin: "1000",
          closePrice: "98000",
          pnl: "10",
          fee: "3",
          balance: "500010",
          closedAt,
          reason: "manual",
        });
      // Three closes of order 7 in one millisecond (what (closed_at, order_id) could not page),
      // then one of order 8.
      await sql`INSERT INTO trades ${
        sql([
          close("1700000100000-0-7", "7", 1_700_000_100_000, "0.001"),
          close("1700000100000-1-7", "7", 1_700_000_100_000, "0.002"),
          close("1700000100000-2-7", "7", 1_700_000_100_000, "0.003"),
          close("1700000200000-0-8", "8", 1_700_000_200_000, "0.004"),
        ])
      }`;
      const seen: Json[] = [];
      let cursor: string | null = null;
      do {
        const path: string = `/trades?limit=1${cursor ? `&cursor=${cursor}` : ""}`;
        const page = await get(path);
        assert.equal(page.status, 200, page.text);
        seen.push(...page.json.trades);
        cursor = page.json.nextCursor;
      } while (cursor !== null && seen.length < 10);
      assert.deepEqual(seen.map((row) => row.closeId), [
        "1700000200000-0-8",
        "1700000100000-2-7",
        "1700000100000-1-7",
        "1700000100000-0-7",
      ]);
      assert.deepEqual(seen.map((row) => row.closedQuantity), ["0.004", "0.003", "0.002", "0.001"]);
      assert.ok(seen.every((row) => row.releasedMargin === 1000 && row.margin === 10000));
      assert.ok(seen.every((row) => row.fee === 3), "each row's fee, in cents");
      const all = await get("/trades");
      assert.equal((all.json.trades as Json[]).length, 4);
      assert.equal(all.json.nextCursor, null);
      assert.deepEqual((await get("/trades", bob.token)).json.trades, []);
      refused(await get("/trades?cursor=%25%25"), 400, "invalid_request", "a bad cursor");
      refused(await get(`/trades?cursor=${btoa("x:y")}`), 400, "invalid_request", "bad cursor");
    });
  } finally {
    await close();
  }
});

Deno.test("openapi.json documents every endpoint of the README's HTTP API", async () => {
  const { call, close } = await setup();
  try {
    const doc = JSON.parse((await call("GET", "/openapi.json")).text);
    assert.equal(doc.openapi, "3.1.0");
    const paths = Object.keys(doc.paths).sort();
    assert.deepEqual(paths, [
      "/balance",
      "/balance/reset",
      "/balance/usd",
      "/candles",
      "/health",
      "/order/cancel",
      "/orders/history",
      "/orders/pending",
      "/prices",
      "/signin",
      "/signup",
      "/supportedAssets",
      "/trade/close",
      "/trade/closeAll",
      "/trade/create",
      "/trade/modify",
      "/trades",
      "/trades/open",
    ]);
    const schemas = doc.components.schemas;
    assert.ok(schemas.TradeCreate.properties.margin);
    for (const field of ["orderType", "triggerPrice", "expiresAt", "slippage"]) {
      assert.ok(schemas.TradeCreate.properties[field], field);
    }
    assert.deepEqual(schemas.TradeCreate.properties.orderType.enum, ["market", "limit", "stop"]);
    assert.deepEqual(schemas.TradeCreate.required.sort(), ["asset", "leverage", "margin", "type"]);
    assert.ok(schemas.TradeClose.properties.quantity);
    assert.deepEqual(Object.keys(schemas.TradeModify.properties), [
      "orderId",
      "stopLoss",
      "takeProfit",
    ]);
    assert.ok(schemas.TradeCloseAll.properties.asset);
    assert.deepEqual(Object.keys(schemas.Candle.properties), ["t", "o", "h", "l", "c", "n"]);
    assert.ok(schemas.OrderCancel.properties.orderId);
    for (const field of ["closedQuantity", "remainingQuantity", "closePrice", "pnl", "balance"]) {
      assert.ok(schemas.CloseResult.properties[field], field);
    }
    assert.ok(schemas.CloseAllResult.properties.closed);
    assert.ok(schemas.CancelResult.properties.status);
    assert.deepEqual(schemas.OpenedOrder.allOf[1].properties.status.enum, ["open"]);
    assert.deepEqual(schemas.PendingOrder.properties.status.enum, ["pending"]);
    assert.deepEqual(schemas.TradeModify.properties.stopLoss.type, ["string", "null"]);
    assert.ok(schemas.EndedOrder.properties.endedAt);
    for (const field of ["closeId", "closedQuantity", "releasedMargin"]) {
      assert.ok(schemas.ClosedTrade.properties[field], field);
    }
    assert.ok(schemas.Balance.properties.usd.properties.pending);
    assert.deepEqual(schemas.Balance.properties.usd.properties.marginLevel.type, [
      "string",
      "null",
    ]);
    assert.ok(schemas.CloseResult.properties.fee);
    assert.ok(schemas.ClosedTrade.properties.fee);
    assert.ok(schemas.ResetResult.properties.balance);
    assert.ok(doc.paths["/balance/reset"].post.responses["409"]);
    assert.equal(doc.components.securitySchemes.bearer.scheme, "bearer");
    const keyed = ["/trade/create", "/trade/close", "/trade/closeAll", "/trade/modify"];
    for (const path of [...keyed, "/order/cancel", "/balance/reset"]) {
      const header = doc.paths[path].post.parameters
        .find((p: { in: string; name: string }) => p.in === "header");
      assert.equal(header?.name, "idempotency-key", path);
      assert.equal(header.required, false);
      assert.equal(header.schema.pattern, "^[\\x21-\\x7e]{1,64}$");
    }
  } finally {
    await close();
  }
});

Deno.test("/docs lists every operation, offline; X-Request-Id is echoed or made", async () => {
  const { call, close } = await setup();
  try {
    const docs = await call("GET", "/docs");
    assert.equal(docs.status, 200);
    assert.match(docs.headers.get("content-type") ?? "", /text\/html/);
    for (const path of ["/api/v1/trade/create", "/api/v1/trades/open", "/api/v1/signin"]) {
      assert.ok(docs.text.includes(path), path);
    }
    assert.ok(
      !/<script|https?:\/\/(?!127)/.test(docs.text.replace(/href="[^"]*"/g, "")),
      "no outside assets",
    );
    const echoed = await call("GET", "/prices", undefined, undefined, {
      "x-request-id": "abc-123",
    });
    assert.equal(echoed.headers.get("x-request-id"), "abc-123");
    const made = await call("GET", "/prices", undefined, undefined, {
      "x-request-id": "bad id\u00ff",
    });
    assert.match(made.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
  } finally {
    await close();
  }
});

Deno.test("CORS: allowed origins only, Vary on every answer, errors included", async () => {
  const { call, close } = await setup();
  try {
    const preflight = (origin: string) =>
      call("OPTIONS", "/trade/create", undefined, undefined, {
        origin,
        "access-control-request-method": "POST",
      });
    const allowed = await preflight("https://app.example.com");
    assert.equal(allowed.status, 204);
    assert.equal(allowed.headers.get("access-control-allow-origin"), "https://app.example.com");
    assert.equal(allowed.headers.get("access-control-allow-methods"), "GET,POST");
    assert.match(allowed.headers.get("access-control-allow-headers") ?? "", /idempotency-key/);
    const refused = await preflight("https://evil.example.com");
    assert.equal(refused.status, 204);
    assert.equal(refused.headers.get("access-control-allow-origin"), null);
    assert.equal(refused.headers.get("access-control-allow-methods"), null);

    const get = await call("GET", "/supportedAssets", undefined, undefined, {
      origin: "https://app.example.com",
    });
    assert.equal(get.headers.get("access-control-allow-origin"), "https://app.example.com");
    // A page must be able to read the key to retry with, and how long to wait.
    assert.equal(get.headers.get("access-control-expose-headers"), "idempotency-key,retry-after");
    assert.equal(get.headers.get("vary"), "Origin");
    assert.equal(get.headers.get("x-content-type-options"), "nosniff");
    const other = await call("GET", "/supportedAssets", undefined, undefined, {
      origin: "https://evil.example.com",
    });
    assert.equal(other.headers.get("access-control-allow-origin"), null);
    assert.equal(other.headers.get("vary"), "Origin");
    const error = await call("GET", "/balance", undefined, undefined, {
      origin: "https://app.example.com",
    });
    assert.equal(error.status, 401);
    assert.equal(error.headers.get("access-control-allow-origin"), "https://app.example.com");
  } finally {
    await close();
  }
});

// ---------------------------------------------------------------------------------------------
// Limits: per user, per client IP, per email. In process so that requests can come from several
// addresses (`remoteAddr` as Deno.serve passes it) and the clock can be driven by hand.
// tests/limits_http_test.ts checks the same limits against the real process.
// ---------------------------------------------------------------------------------------------
import type { ApiDeps } from "./deps.ts";
import type { EngineGateway } from "./engine_client.ts";

async function limitsSetup(overrides: Partial<ApiDeps>) {
  const name = `l_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres(ADMIN, { onnotice: () => {}, max: 1 });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const sql = postgres(withDatabase(ADMIN, name), { onnotice: () => {}, max: 2 });
  await migrate(sql);
  const engine = new InProcessEngine();
  engine.setQuote("BTC", 9_699_950n, 9_700_050n);
  const counts = { engineRequests: 0, hashes: 0 };
  const gateway: EngineGateway = {
    request: (fields) => {
      counts.engineRequests++;
      return engine.request(fields);
    },
    send: (fields) => engine.send(fields),
    latestQuote: (asset) => engine.latestQuote(asset),
    quotes: () => engine.quotes(),
  };
  // Wall time plus what a test adds: tokens are checked against the real clock.
  const clock = { ms: Date.now() };
  const app = buildApp({
    engine: gateway,
    users: postgresUsers(sql),
    history: postgresHistory(sql),
    passwords: {
      hash: (password) => {
        counts.hashes++;
        return argon2id.hash(password);
      },
      verify: argon2id.verify,
    },
    jwtSecret: SECRET,
    log: createLogger("test", "error"),
    health: () => Promise.resolve({ redis: true, postgres: true, engine: true }),
    nowMs: () => clock.ms,
    ...overrides,
  });
  const call = async (
    method: string,
    path: string,
    options: { body?: unknown; token?: string; ip?: string } = {},
  ) => {
    const response = await app.request(`/api/v1${path}`, {
      method,
      headers: {
        ...(options.body === undefined ? {} : { "content-type": "application/json" }),
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      },
      body: options.body === undefined
        ? undefined
        : typeof options.body === "string"
        ? options.body
        : JSON.stringify(options.body),
    }, { remoteAddr: { transport: "tcp", hostname: options.ip ?? "192.0.2.1", port: 50_000 } });
    const text = await response.text();
    return { status: response.status, text, headers: response.headers };
  };
  const close = async () => {
    await sql.end();
    await admin.unsafe(`DROP DATABASE ${name} WITH (FORCE)`);
    await admin.end();
  };
  return { call, clock, counts, close };
}

type LimitsCall = Awaited<ReturnType<typeof limitsSetup>>["call"];

function assertLimited(result: Awaited<ReturnType<LimitsCall>>, what: string): number {
  assert.equal(result.status, 429, `${what}: ${result.status} ${result.text}`);
  const error = JSON.parse(result.text).error;
  assert.equal(error.code, "rate_limited", what);
  assert.equal(typeof error.message, "string");
  const retryAfter = result.headers.get("retry-after") ?? "";
  assert.match(retryAfter, /^[1-9][0-9]*$/, `${what}: Retry-After ${retryAfter}`);
  return Number(retryAfter);
}

const OWNER = { email: "owner@example.com", password: "owner's password" };

Deno.test("limits: wrong passwords from one IP never lock the owner out from another", async () => {
  // Pair 2 a minute, IP 10, email 20: the default shape at a fifth of its size (fewer hashes).
  const { call, close } = await limitsSetup({ signinLimitPerMinute: 2 });
  try {
    assert.equal((await call("POST", "/signup", { body: OWNER, ip: "198.51.100.7" })).status, 201);
    const attacker = "203.0.113.9";
    const wrong = { email: OWNER.email, password: "guess guess" };
    for (let i = 0; i < 2; i++) {
      assert.equal((await call("POST", "/signin", { body: wrong, ip: attacker })).status, 401);
    }
    // The pair's bucket: 2 a minute, so the next token is 30 s away.
    const retry = assertLimited(
      await call("POST", "/signin", { body: wrong, ip: attacker }),
      "3rd",
    );
    assert.equal(retry, 30);
    // Hammering on, in other letter cases too, charges nothing to the email's own bucket.
    for (let i = 0; i < 100; i++) {
      const email = i % 2 ? OWNER.email.toUpperCase() : OWNER.email;
      const result = await call("POST", "/signin", { body: { ...wrong, email }, ip: attacker });
      assert.equal(result.status, 429, `attempt ${i}`);
    }
    const owner = await call("POST", "/signin", { body: OWNER, ip: "198.51.100.7" });
    assert.equal(owner.status, 200, owner.text);
    const travelling = await call("POST", "/signin", { body: OWNER, ip: "2001:db8:1::5" });
    assert.equal(travelling.status, 200, travelling.text);
  } finally {
    await close();
  }
});

Deno.test("limits: one IP across emails, and many IPs at one email, are capped", async () => {
  const { call, clock, close } = await limitsSetup({ signinLimitPerMinute: 2 });
  try {
    assert.equal((await call("POST", "/signup", { body: OWNER })).status, 201);
    // Per IP: 10 a minute across emails (5 × the pair's rate).
    const spray = "203.0.113.10";
    for (let i = 0; i < 10; i++) {
      const body = { email: `nobody-${i}@example.com`, password: "guess guess" };
      assert.equal((await call("POST", "/signin", { body, ip: spray })).status, 401, `#${i}`);
    }
    const body = { email: "nobody-10@example.com", password: "guess guess" };
    assert.equal(assertLimited(await call("POST", "/signin", { body, ip: spray }), "per IP"), 6);
    // Per email: 20 a minute (10 × the pair's rate), so only 10 IPs together reach it.
    const wrong = { email: OWNER.email, password: "guess guess" };
    for (let ip = 1; ip <= 10; ip++) {
      for (let i = 0; i < 2; i++) {
        const result = await call("POST", "/signin", { body: wrong, ip: `198.18.0.${ip}` });
        assert.equal(result.status, 401, `IP ${ip} attempt ${i}`);
      }
    }
    assertLimited(await call("POST", "/signin", { body: wrong, ip: "198.18.0.11" }), "per email");
    // A token back every 3 s: the limit is a rate, not a lock.
    clock.ms += 3_000;
    assert.equal((await call("POST", "/signin", { body: OWNER })).status, 200);
  } finally {
    await close();
  }
});

Deno.test("limits: signups per client IP (IPv6 by /64), counted before hashing or parsing", async () => {
  const { call, counts, close } = await limitsSetup({ signupsPerMinute: 2 });
  try {
    const signup = (ip: string) =>
      call("POST", "/signup", {
        body: { email: `u-${crypto.randomUUID()}@example.com`, password: "password123" },
        ip,
      });
    assert.equal((await signup("2001:db8::1")).status, 201);
    assert.equal((await signup("2001:db8:0:0:ffff::2")).status, 201);
    assert.equal(assertLimited(await signup("2001:db8::3"), "same /64"), 30);
    assert.equal(counts.hashes, 2, "a refused signup hashed a password");
    const malformed = await call("POST", "/signup", { body: "{", ip: "2001:db8::4" });
    assertLimited(malformed, "a malformed body from a limited address");
    assert.equal((await signup("2001:db8:0:1::1")).status, 201, "another /64");
    // An IPv4 client reaching a dual-stack socket is the same client as over IPv4.
    assert.equal((await signup("::ffff:192.0.2.50")).status, 201);
    assert.equal((await signup("192.0.2.50")).status, 201);
    assertLimited(await signup("::ffff:192.0.2.50"), "IPv4-mapped");
    assert.equal((await signup("192.0.2.51")).status, 201);
  } finally {
    await close();
  }
});

Deno.test("limits: a user over a limit is refused before the engine, on every trading path", async () => {
  const { call, clock, counts, close } = await limitsSetup({
    tradeRate: { perSecond: 1, burst: 2 },
    userRate: { perSecond: 1, burst: 10 },
  });
  try {
    const credentials = { email: "trader@example.com", password: "password123" };
    assert.equal((await call("POST", "/signup", { body: credentials })).status, 201);
    const { token } = JSON.parse((await call("POST", "/signin", { body: credentials })).text);
    const order = { asset: "BTC", type: "long", margin: 1000, leverage: 2, slippage: 1000 };
    for (let i = 0; i < 2; i++) {
      const opened = await call("POST", "/trade/create", { body: order, token });
      assert.equal(opened.status, 200, opened.text);
    }
    const before = counts.engineRequests;
    assertLimited(await call("POST", "/trade/create", { body: order, token }), "3rd create");
    // The router decodes %63 to "c": so does the limit.
    assertLimited(await call("POST", "/trade/%63reate", { body: order, token }), "encoded");
    assertLimited(await call("POST", "/trade/close", { body: { orderId: "1" }, token }), "close");
    const more: Array<[string, unknown]> = [
      ["/trade/closeAll", {}],
      ["/trade/modify", { orderId: "1", stopLoss: null }],
      ["/order/cancel", { orderId: "1" }],
      ["/balance/reset", {}],
    ];
    for (const [path, body] of more) assertLimited(await call("POST", path, { body, token }), path);
    assert.equal(counts.engineRequests, before, "a limited call reached the engine");
    // Reads are not trading calls; the user's 10th call of this second is still allowed.
    assert.equal((await call("GET", "/balance/usd", { token })).status, 200);
    // The 11th is over the user's limit, whatever it is.
    assertLimited(await call("GET", "/balance/usd", { token }), "11th call");
    // A bad token is not a user: 401, charged to no one.
    const forged = await call("GET", "/balance/usd", { token: `${token}x` });
    assert.equal(forged.status, 401);
    // Public endpoints without a token are not per-user calls.
    assert.equal((await call("GET", "/prices")).status, 200);
    clock.ms += 1_000;
    const again = await call("POST", "/trade/create", { body: order, token });
    assert.equal(again.status, 200, again.text);
  } finally {
    await close();
  }
});
