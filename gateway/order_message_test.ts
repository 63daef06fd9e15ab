import assert from "node:assert/strict";
import { ORDER_EVENT_CASES, parseMessage } from "./order_events_fixture.ts";
import { accountMessage } from "./account_message.ts";
import { orderMessage } from "./order_message.ts";

Deno.test("every order event becomes {type: order, event, ...fields, side}, cents as numbers", () => {
  const kinds = new Set<string>();
  for (const [result, expected] of ORDER_EVENT_CASES) {
    const text = orderMessage(result);
    assert.ok(text !== undefined, result.event);
    assert.deepEqual(parseMessage(text), expected, result.event);
    kinds.add(result.event);
  }
  assert.deepEqual([...kinds].sort(), [
    "cancelled",
    "closed",
    "expired",
    "filled",
    "margin_call",
    "modified",
    "opened",
    "partially_closed",
    "placed",
  ]);
});

Deno.test("cents are written from their digits, never through a float", () => {
  const closed = ORDER_EVENT_CASES.find(([result]) => result.event === "closed")![0];
  const text = orderMessage(closed)!;
  assert.match(text, /"pnl":-1234567890123456789,/);
  assert.match(text, /"balance":9223372036854775807,/);
  assert.match(text, /"margin":10000,/);
  // Prices and quantities stay decimal strings.
  assert.match(text, /"closePrice":"98000"/);
});

Deno.test("events the gateway does not know, or a modify naming nothing, give no message", () => {
  const unknown = { event: "margin_called", orderId: "7", type: "long" };
  // A reset is the account's, not an order's: the account channel tells it.
  assert.equal(orderMessage({ event: "reset", balance: "500000" }), undefined);
  // deno-lint-ignore no-explicit-any
  assert.equal(orderMessage(unknown as any), undefined);
  assert.equal(orderMessage({ event: "modified", orderId: "7", type: "long" }), undefined);
});

Deno.test("the account message is the figures an event carries, cents as exact numbers", () => {
  const text = accountMessage({
    balance: "9223372036854775807",
    locked: "10000",
    pending: "0",
    equity: "-5",
  });
  assert.equal(
    text,
    '{"type":"account","balance":9223372036854775807,"locked":10000,"pending":0,"equity":-5}',
  );
});
