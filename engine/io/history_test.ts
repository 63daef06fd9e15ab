/** historyRows: only closes become rows, whatever else engine:output carries. */
import assert from "node:assert/strict";
import { encodeOutput, type EngineOutput } from "@trading/shared/schemas";
import { historyRows } from "./history.ts";
import { CLOSED as closed, ORDER as order } from "../testdata/outputs.ts";

const answer = { kind: "answer" as const, requestId: "r", userId: "u1", ok: true as const };

Deno.test("historyRows keeps closes (answers and events) and nothing else", () => {
  const outputs: EngineOutput[] = [
    { kind: "price", cause: "1-0", asset: "BTC", bid: "97000", ask: "97001", ts: 1 },
    { ...answer, cause: "1-1", result: { event: "opened", ...order } },
    { ...answer, cause: "1-2", result: closed },
    { ...answer, cause: "1-3", result: closed, replayed: true },
    {
      kind: "answer",
      cause: "1-4",
      requestId: "r2",
      userId: "u1",
      ok: false,
      code: "order_closed",
      message: "closed",
    },
    { kind: "event", cause: "1-5", userId: "u2", result: { ...closed, reason: "stop_loss" } },
  ];
  const rows = historyRows(outputs.map((o, i) => [`1-${i}`, encodeOutput(o)]));
  assert.deepEqual(rows.map((r) => [r.cause, r.user_id, r.reason]), [
    ["1-2", "u1", "manual"],
    ["1-5", "u2", "stop_loss"],
  ]);
  assert.equal(rows[0]!.pnl_cents, "9");
  assert.equal(rows[0]!.close_price, "97100");
});

Deno.test("historyRows writes every close, partial ones included, each under its own closeId", () => {
  const part = {
    ...closed,
    closeId: "1-7-7",
    closedQuantity: "0.0004",
    remainingQuantity: "0.0006",
    releasedMargin: "400",
  };
  const outputs: EngineOutput[] = [
    {
      kind: "event",
      cause: "1-7",
      userId: "u1",
      result: { ...part, event: "partially_closed", remaining: order },
    },
    { kind: "event", cause: "1-8", userId: "u1", result: { ...part, closeId: "1-8-7" } },
    // Written before partial closes existed: a close without the close fields.
    { kind: "event", cause: "1-10", userId: "u2", result: { ...closed, reason: "liquidation" } },
  ];
  const rows = historyRows(outputs.map((o, i) => [`2-${i}`, encodeOutput(o)]));
  assert.deepEqual(rows.map((r) => [r.close_id, r.closed_quantity, r.released_margin_cents]), [
    ["1-7-7", "0.0004", "400"],
    ["1-8-7", "0.0004", "400"],
    ["1-10-7", closed.quantity, closed.margin],
  ]);
});
