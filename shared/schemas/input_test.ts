import assert from "node:assert/strict";
import { decodeInput, encodeInput, fieldsFromArray } from "./input.ts";

const open = {
  kind: "open",
  requestId: "req-1",
  userId: "user_1",
  asset: "BTC",
  side: "long",
  marginCents: "10000",
  leverage: "10",
  slippageBps: "100",
  expectedPrice: "9700050",
};

Deno.test("decodeInput types every kind, amounts as bigint", () => {
  const decoded = decodeInput({ ...open, stopLoss: "9000000", idempotencyKey: "k-1" });
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.entry, {
    ...open,
    marginCents: 10000n,
    leverage: 10,
    slippageBps: 100,
    expectedPrice: 9700050n,
    stopLoss: 9000000n,
    idempotencyKey: "k-1",
  });
  assert.ok(decodeInput({ kind: "price", asset: "ETH", bid: "1", ask: "2", ts: "3" }).ok);
  assert.ok(decodeInput({ kind: "create_account", requestId: "r", userId: "u" }).ok);
  assert.ok(decodeInput({ kind: "close", requestId: "r", userId: "u", orderId: "12" }).ok);
});

Deno.test("decodeInput refuses malformed entries with a reason and the request to answer", () => {
  const bad: Array<Record<string, unknown>> = [
    { ...open, marginCents: "1e4" },
    { ...open, marginCents: "-5" },
    { ...open, marginCents: "0" },
    { ...open, marginCents: "10000.5" },
    { ...open, marginCents: "9".repeat(25) },
    { ...open, leverage: "0" },
    { ...open, leverage: "101" },
    { ...open, slippageBps: "10001" },
    { ...open, side: "LONG" },
    { ...open, expectedPrice: "NaN" },
    { ...open, balance: "1" },
    { ...open, idempotencyKey: "" },
    { ...open, idempotencyKey: "x".repeat(65) },
    { ...open, idempotencyKey: "has space" },
    { ...open, asset: "btc" },
    { ...open, marginCents: 10000 },
  ];
  for (const fields of bad) {
    const decoded = decodeInput(fields);
    assert.ok(!decoded.ok, JSON.stringify(fields));
    assert.equal(decoded.requestId, "req-1");
    assert.equal(decoded.userId, "user_1");
    assert.ok(decoded.reason.length > 0 && decoded.reason.length <= 300);
  }
});

Deno.test("decodeInput never throws, whatever it is given", () => {
  const inputs: unknown[] = [null, undefined, 42, "open", [], [1, 2], {}, { kind: "price" }, {
    kind: "close",
    requestId: "r".repeat(65),
    userId: "u",
    orderId: "0",
  }, { kind: "price", asset: "BTC", bid: "2", ask: "1", ts: "0" }];
  for (const input of inputs) {
    const decoded = decodeInput(input);
    assert.equal(decoded.ok, false, JSON.stringify(input));
  }
});

Deno.test("fieldsFromArray marks a repeated field so the entry is refused", () => {
  const fields = fieldsFromArray([
    "kind",
    "close",
    "requestId",
    "r",
    "userId",
    "u",
    "orderId",
    "1",
  ]);
  assert.ok(decodeInput(fields).ok);
  const twice = fieldsFromArray([
    "kind",
    "close",
    "requestId",
    "r",
    "userId",
    "u",
    "userId",
    "v",
    "orderId",
    "1",
  ]);
  assert.equal(decodeInput(twice).ok, false);
});

Deno.test("encodeInput writes the wire form decodeInput reads back", () => {
  const decoded = decodeInput({ ...open, takeProfit: "11000000" });
  assert.ok(decoded.ok);
  assert.deepEqual(encodeInput(decoded.entry), { ...open, takeProfit: "11000000" });
});
