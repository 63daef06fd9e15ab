/**
 * `decodeAnswer`, the reader's cheap decode of an answer: what `decodeOutput` (the full schema
 * parse) gives for every answer the engine writes, key order included (so the routes' JSON is
 * unchanged), and undefined, never a throw, for entries a hostile writer could put there.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { createLogger } from "@trading/shared/log";
import { signToken } from "@trading/shared/jwt";
import { type Answer, decodeOutput, encodeOutput } from "@trading/shared/schemas";
import { buildApp } from "./app.ts";
import { argon2id } from "./auth/passwords.ts";
import { decodeAnswer, type EngineRequest } from "./engine_client.ts";
import type { HistoryStore } from "./stores/history.ts";
import type { UserStore } from "./stores/users.ts";
import { InProcessEngine } from "./testing/in_process_engine.ts";

const SECRET = "engine-client-test-secret-0123456789abc";

/** Every answer goes to the routes as the reader would decode it, checked against the schema. */
class CheckedEngine extends InProcessEngine {
  events = new Set<string>();
  override async request(entry: EngineRequest): Promise<Answer> {
    const answer = await super.request(entry);
    const flat = encodeOutput(answer);
    const cheap = decodeAnswer(flat);
    assert.equal(JSON.stringify(cheap), JSON.stringify(decodeOutput(flat)));
    this.events.add(cheap!.ok ? cheap!.result.event : `refused:${cheap!.code}`);
    return cheap!;
  }
}

Deno.test("decodeAnswer gives what decodeOutput gives for the engine's answers", async () => {
  const engine = new CheckedEngine();
  const unused = new Proxy({}, { get: () => () => Promise.reject(new Error("not used")) });
  const app = buildApp({
    engine,
    users: unused as UserStore,
    history: unused as HistoryStore,
    passwords: argon2id,
    jwtSecret: SECRET,
    log: createLogger("test", "error"),
    health: () => Promise.resolve({ redis: true, postgres: true, engine: true }),
  });
  const userId = "decodeuser";
  await engine.request({ kind: "create_account", userId });
  const token = await signToken(userId, SECRET, Date.now());
  const call = async (method: string, path: string, body?: unknown, key?: string) => {
    const response = await app.request(`/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(key === undefined ? {} : { "idempotency-key": key }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    assert.ok(response.status < 500, text);
    return { status: response.status, body: JSON.parse(text) };
  };
  engine.setQuote("ETH", 350_000n, 350_010n);
  engine.setQuote("BTC", 9_699_950n, 9_700_050n);
  const market = { asset: "ETH", type: "long", margin: 10_000, leverage: 5, slippage: 100 };
  const a = await call("POST", "/trade/create", {
    ...market,
    stopLoss: "3000",
    takeProfit: "4000",
  });
  await call("POST", "/trade/create", { ...market, stopLoss: "3000" }, "key-1");
  await call("POST", "/trade/create", { ...market, stopLoss: "3000" }, "key-1"); // replayed
  await call("POST", "/trade/create", { ...market, margin: 200 }, "key-1"); // reused
  const b = await call("POST", "/trade/create", { ...market, asset: "BTC", type: "short" });
  const limit = await call("POST", "/trade/create", {
    asset: "ETH",
    type: "long",
    margin: 5_000,
    leverage: 2,
    orderType: "limit",
    triggerPrice: "3000",
    expiresAt: 4_102_444_800_000,
  });
  await call("POST", "/trade/create", { ...market, margin: 1e12 }); // insufficient balance
  await call("POST", "/trade/modify", {
    orderId: a.body.orderId,
    stopLoss: null,
    takeProfit: "4100",
  });
  await call("POST", "/trade/modify", { orderId: limit.body.orderId, takeProfit: "3900" });
  await call("GET", "/balance");
  await call("GET", "/balance/usd");
  await call("GET", "/trades/open?limit=1");
  await call("GET", "/orders/pending");
  await call("POST", "/order/cancel", { orderId: limit.body.orderId });
  await call("GET", "/orders/history");
  await call("POST", "/trade/close", { orderId: b.body.orderId, quantity: "0.0001" });
  await call("POST", "/trade/close", { orderId: b.body.orderId });
  await call("POST", "/trade/close", { orderId: b.body.orderId }); // closed
  await call("POST", "/trade/close", { orderId: "999999" }); // not found
  await call("POST", "/balance/reset", {}); // a position is still open: positions_open
  await call("POST", "/trade/closeAll", {});
  await call("POST", "/balance/reset", {}, "reset-1");
  await call("POST", "/balance/reset", {}, "reset-1"); // replayed
  for (
    const event of [
      "opened",
      "placed",
      "modified",
      "account_state",
      "open_positions",
      "pending_orders",
      "orders_history",
      "cancelled",
      "partially_closed",
      "closed",
      "closed_all",
      "reset",
      "refused:positions_open",
      "refused:insufficient_balance",
      "refused:idempotency_key_reused",
    ]
  ) {
    assert.ok(engine.events.has(event), `${event} not seen: ${[...engine.events]}`);
  }
});

Deno.test("decodeAnswer refuses what is not an answer, and never throws", () => {
  const ok = encodeOutput({
    kind: "answer",
    cause: "1-0",
    requestId: "r1",
    userId: "u1",
    ok: true,
    result: { event: "account", balance: "500000", created: true },
  });
  assert.ok(decodeAnswer(ok));
  const withField = (name: string, value: string) => {
    const flat = [...ok];
    flat[flat.indexOf(name) + 1] = value;
    return flat;
  };
  const refused = (body: unknown) => withField("body", JSON.stringify(body));
  for (
    const flat of [
      [],
      ["kind"],
      withField("kind", "event"),
      withField("requestId", ""),
      ok.slice(0, -2), // no body
      withField("body", "{"),
      withField("body", "null"),
      withField("body", "[]"),
      withField("body", '"text"'),
      refused({ ok: "true", result: { event: "account" } }),
      refused({ ok: true }),
      refused({ ok: true, result: [] }),
      refused({ ok: true, result: { event: "toString" } }),
      refused({ ok: true, result: { event: "__proto__" } }),
      refused({ ok: true, result: { event: "open_positions", positions: {} } }),
      refused({ ok: true, result: { event: "closed_all" } }),
      refused({ ok: true, result: { event: "account" }, replayed: false }),
      refused({ ok: false, code: "toString", message: "x" }),
      refused({ ok: false, code: "no_price", message: 1 }),
      refused({ ok: false, code: "no_price" }),
    ]
  ) {
    assert.equal(decodeAnswer(flat), undefined, JSON.stringify(flat));
  }
  const refusal = decodeAnswer(refused({ ok: false, code: "no_price", message: "m", x: 1 }));
  assert.deepEqual(refusal, {
    kind: "answer",
    cause: "1-0",
    requestId: "r1",
    userId: "u1",
    ok: false,
    code: "no_price",
    message: "m",
  });
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.string(), fc.json())), (flat) => {
      decodeAnswer(flat);
      decodeAnswer(["kind", "answer", "cause", "c", "requestId", "r", "userId", "u", ...flat]);
    }),
  );
  fc.assert(
    fc.property(fc.json(), (body) => {
      decodeAnswer(withField("body", body));
    }),
  );
});
