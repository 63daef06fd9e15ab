import assert from "node:assert/strict";
import { decodeOutput, encodeOutput, type EngineOutput, toApiJson } from "./output.ts";

const closed: EngineOutput = {
  kind: "event",
  cause: "1700000000000-3",
  userId: "u1",
  result: {
    event: "closed",
    orderId: "7",
    asset: "BTC",
    type: "long",
    margin: "10000",
    leverage: 10,
    openPrice: "97000.5",
    quantity: "0.01030922",
    liquidationPrice: "87785.45",
    openedAt: 1700000000000,
    closePrice: "98000",
    pnl: "-1030",
    balance: "498970",
    closedAt: 1700000000100,
    reason: "stop_loss",
  },
};

Deno.test("outputs round-trip through their Redis fields", () => {
  const fields = encodeOutput(closed);
  assert.deepEqual(fields.slice(0, 8), [
    "kind",
    "event",
    "cause",
    closed.cause,
    "requestId",
    "",
    "userId",
    "u1",
  ]);
  assert.deepEqual(decodeOutput(fields), closed);
});

Deno.test("decodeOutput returns undefined for malformed entries", () => {
  assert.equal(decodeOutput(["kind", "event", "body", "{"]), undefined);
  assert.equal(decodeOutput(["kind", "event", "cause", "1-0", "body", "{}"]), undefined);
  assert.equal(decodeOutput([]), undefined);
});

Deno.test("toApiJson writes cents as exact JSON numbers, even past 2^53", () => {
  const text = toApiJson({
    margin: "10000",
    pnl: "-1030",
    balance: "90071992547409931",
    openPrice: "97000.5",
  });
  assert.equal(
    text,
    '{"margin":10000,"pnl":-1030,"balance":90071992547409931,"openPrice":"97000.5"}',
  );
});

Deno.test("a refusal addressed to no user round-trips", () => {
  const refusal: EngineOutput = {
    kind: "answer",
    cause: "5-0",
    requestId: "r9",
    userId: "",
    ok: false,
    code: "invalid_entry",
    message: "kind: unknown",
  };
  assert.deepEqual(decodeOutput(encodeOutput(refusal)), refusal);
});
