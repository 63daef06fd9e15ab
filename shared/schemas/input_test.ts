import assert from "node:assert/strict";
import { decodeFlat } from "./flat.ts";
import { decodeInput, encodeInput } from "./input.ts";

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
  assert.ok(decodeInput({ price: "ETH 1 2 3" }).ok);
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

Deno.test("encodeInput writes the wire form decodeInput reads back", () => {
  const price = decodeInput({ price: "SOL 1501200 1501234 99" });
  assert.ok(price.ok);
  assert.deepEqual(encodeInput(price.entry), { price: "SOL 1501200 1501234 99" });
  const decoded = decodeInput({ ...open, takeProfit: "11000000" });
  assert.ok(decoded.ok);
  assert.deepEqual(encodeInput(decoded.entry), { ...open, takeProfit: "11000000" });
});

Deno.test("price entries: one field, parsed exactly or refused", () => {
  assert.deepEqual(decodeInput({ price: "BTC 9700050 9700150 1732579200123456" }), {
    ok: true,
    entry: { kind: "price", asset: "BTC", bid: 9700050n, ask: 9700150n, ts: 1732579200123456n },
  });
  const refused = [
    "BTC 9700050 9700150",
    "BTC 9700050 9700150 1 2",
    "BTC  9700050 9700150 1",
    "btc 1 2 3",
    "BTC 0 2 3",
    "BTC 3 2 3",
    "BTC -1 2 3",
    "BTC 1e3 2000 3",
    "BTC 01 2 3",
    "BTC 1 2 " + "9".repeat(19),
    "",
  ];
  for (const value of refused) assert.equal(decodeInput({ price: value }).ok, false, value);
  assert.equal(decodeInput({ price: "BTC 1 2 3", extra: "x" }).ok, false);
  assert.equal(decodeInput({ price: 5 }).ok, false);
});

Deno.test("a reset names only its user (and key); a configure's fee rate is 0–1000 bps", () => {
  const reset = {
    kind: "reset",
    requestId: "r1",
    userId: "u1",
    idempotencyKey: "k",
    fingerprint: "f",
  };
  const decoded = decodeInput(reset);
  assert.ok(decoded.ok && decoded.entry.kind === "reset");
  assert.equal(decodeInput({ ...reset, balance: "999999999" }).ok, false, "nothing else");
  assert.equal(decodeFlat(Object.entries(reset).flat()).ok, true, "the flat path agrees");
  for (const feeBps of ["0", "25", "1000"]) {
    const entry = decodeInput({ kind: "configure", feeBps });
    assert.ok(
      entry.ok && entry.entry.kind === "configure" && entry.entry.feeBps === Number(feeBps),
    );
  }
  for (const feeBps of ["-1", "1001", "1.5", ""]) {
    assert.equal(decodeInput({ kind: "configure", feeBps }).ok, false, feeBps);
  }
});
