/// <reference lib="deno.ns" />
// The page's order state, in Deno (web/ type-checks for the browser: the Deno namespace is added here).
import assert from "node:assert/strict";
import { parseJson } from "./api.ts";
import { Orders, partToClose, percentOf, typedPrice } from "./orders.ts";

const message = (fields: Record<string, unknown>) =>
  parseJson(JSON.stringify({ type: "order", ...fields })) as Record<string, unknown>;

const opened = {
  event: "opened",
  orderId: "7",
  asset: "BTC",
  margin: 10000,
  leverage: 10,
  openPrice: "97000",
  quantity: "0.01030927",
  liquidationPrice: "87785",
  openedAt: 1,
  side: "long",
};
const placed = {
  event: "placed",
  orderId: "8",
  status: "pending",
  orderType: "limit",
  asset: "ETH",
  margin: 2500,
  leverage: 5,
  triggerPrice: "3500",
  createdAt: 2,
  side: "short",
};

Deno.test("order messages keep the open and pending lists in step", () => {
  const orders = new Orders();
  assert.equal(orders.apply(message(opened))?.[1], "ok");
  assert.deepEqual(orders.openTrades().map((t) => [t.orderId, t.type, t.margin]), [
    ["7", "long", 10000n],
  ]);
  orders.apply(message(placed));
  assert.deepEqual(orders.pendingOrders().map((o) => [o.orderId, o.type, o.triggerPrice]), [
    ["8", "short", "3500"],
  ]);
  // A modify of each: the stop-loss set, the take-profit removed (absent).
  orders.apply(message({ ...opened, event: "modified", stopLoss: "90000", status: "open" }));
  assert.equal(orders.open.get("7")!.stopLoss, "90000");
  orders.apply(message({ ...placed, event: "modified", takeProfit: "3000" }));
  assert.equal(orders.pending.get("8")!.takeProfit, "3000");
  // A modify of an order no longer here adds nothing.
  orders.apply(message({ ...placed, orderId: "99", event: "modified" }));
  assert.equal(orders.pending.has("99"), false);
  // The fill moves it to the positions, under the same orderId.
  orders.apply(message({ ...opened, event: "filled", orderId: "8", orderType: "limit" }));
  assert.deepEqual([...orders.pending.keys()], []);
  assert.deepEqual(orders.openTrades().map((t) => t.orderId), ["7", "8"]);
  // Cancelled and expired orders leave; applying again changes nothing.
  orders.apply(message(placed));
  for (const event of ["cancelled", "expired", "cancelled"]) {
    orders.apply(message({ ...placed, event, status: event, balance: 500000, endedAt: 3 }));
    assert.equal(orders.pending.size, 0);
  }
  assert.equal(orders.apply(message({ event: "no_such_event", orderId: "7" })), undefined);
});

Deno.test("a margin call shows until dismissed or until its position closes", () => {
  const orders = new Orders();
  orders.apply(message(opened));
  const call = {
    event: "margin_call",
    orderId: "7",
    liquidationPrice: "87785",
    warningPrice: "92392.5",
  };
  const [text, kind] = orders.apply(message(call))!;
  assert.equal(kind, "loss");
  assert.match(text, /BTC long #7 is near liquidation at 87,785\.00 \(warning level 92,392\.50\)/);
  assert.deepEqual([...orders.marginCalls.keys()], ["7"]);
  orders.dismissMarginCall("7");
  assert.equal(orders.marginCalls.size, 0);
  // It re-arms: the next call of the position shows again; a repeat is one banner.
  orders.apply(message(call));
  orders.apply(message(call));
  assert.equal(orders.marginCalls.size, 1);
  // A partial close leaves it; the close clears it.
  orders.apply(message({
    ...opened,
    event: "partially_closed",
    closeId: "9-7",
    closePrice: "90000",
    pnl: -500,
    closedAt: 9,
    reason: "manual",
    remaining: { ...opened, event: undefined, quantity: "0.005" },
  }));
  assert.equal(orders.marginCalls.size, 1);
  orders.apply(
    message({
      ...opened,
      event: "closed",
      closePrice: "88000",
      pnl: -9000,
      closedAt: 10,
      reason: "liquidation",
    }),
  );
  assert.equal(orders.marginCalls.size, 0);
  // A call of a position the page does not hold is told, with what the message names, but gets
  // no banner: banners are bounded by the open positions.
  const [unknown] = orders.apply(message({ ...call, orderId: "12" }))!;
  assert.match(unknown, /Position #12 is near liquidation at 87785 /);
  const [named] = orders.apply(message({ ...call, orderId: "13", asset: "ETH", side: "short" }))!;
  assert.match(named, /ETH short #13 is near liquidation at 87,785\.00 /);
  assert.equal(orders.marginCalls.size, 0);
  // A reload drops the calls of positions no longer open.
  orders.apply(message({ ...opened, orderId: "14" }));
  orders.apply(message({ ...call, orderId: "14" }));
  assert.equal(orders.marginCalls.size, 1);
  orders.load([], []);
  assert.equal(orders.marginCalls.size, 0);
});

Deno.test("fees show in the notices where the API charges them", () => {
  const orders = new Orders();
  assert.equal(orders.apply(message({ ...opened, fee: 97 }))![0], "Opened BTC long #7, fee $0.97.");
  assert.equal(
    orders.apply(message({ ...opened, orderId: "8", fee: 0 }))![0],
    "Opened BTC long #8.",
  );
  const [closed] = orders.apply(message({
    ...opened,
    event: "closed",
    closeId: "10-7",
    closePrice: "98000",
    pnl: 1030,
    fee: 101,
    closedAt: 10,
    reason: "take_profit",
  }))!;
  assert.equal(closed, "Closed BTC long #7 (take-profit), PnL $10.30, fee $1.01.");
  // The fee is cents, exact: a bigint in the history row.
  assert.equal(orders.history([], 20)[0]!.fee, 101n);
});

Deno.test("a partial close shrinks the position and adds a history row; a close removes it", () => {
  const orders = new Orders();
  orders.apply(message(opened));
  const close = {
    ...opened,
    closePrice: "98000",
    pnl: -301,
    balance: 495300,
    closedAt: 10,
    reason: "manual",
    releasedMargin: 5000,
  };
  const [text, kind] = orders.apply(message({
    ...close,
    event: "partially_closed",
    closeId: "10-0-7",
    closedQuantity: "0.00515463",
    remainingQuantity: "0.00515464",
    remaining: { ...opened, event: undefined, margin: 5000, quantity: "0.00515464" },
  }))!;
  assert.match(text, /Closed 0\.00515463 of BTC long #7 \(manual\), PnL -\$3\.01/);
  assert.equal(kind, "loss");
  assert.deepEqual(
    [orders.open.get("7")!.quantity, orders.open.get("7")!.margin, orders.open.get("7")!.type],
    ["0.00515464", 5000n, "long"],
  );
  orders.apply(message({ ...close, event: "closed", closeId: "11-0-7", closedAt: 11, pnl: 5 }));
  assert.equal(orders.open.size, 0);
  assert.deepEqual(orders.history([], 20).map((t) => [t.closeId, t.type]), [
    ["11-0-7", "long"],
    ["10-0-7", "long"],
  ]);
  // Once the fetched history has a close, the live copy goes.
  const fetched = orders.history([], 20).slice(1);
  assert.deepEqual(orders.history(fetched, 20).map((t) => t.closeId), ["11-0-7", "10-0-7"]);
  assert.deepEqual([...orders.liveCloses.keys()], ["11-0-7"]);
});

Deno.test("percentages of a quantity are floored integer units of 10^-8", () => {
  assert.equal(percentOf("0.01030927", 50), "0.00515463");
  assert.equal(percentOf("0.01030927", 25), "0.00257731");
  assert.equal(percentOf("0.01030927", 75), "0.00773195");
  assert.equal(percentOf("0.00000001", 50), "0");
  assert.equal(percentOf("123456789.12345678", 75), "92592591.84259258");
  assert.deepEqual(partToClose(" 0.005 ", "0.01"), { quantity: "0.005" });
  assert.equal(typeof partToClose("0", "0.01"), "string");
  assert.equal(typeof partToClose("0.02", "0.01"), "string");
  assert.equal(typeof partToClose("0.000000001", "0.01"), "string");
  assert.equal(typedPrice("BTC", " 97,000.5 ", "Trigger"), "97000.5");
  assert.equal(typedPrice("BTC", "", "Trigger"), undefined);
  assert.ok(typeof typedPrice("BTC", "97000.555", "Trigger") === "object");
  assert.ok(typeof typedPrice("BTC", "0", "Trigger") === "object");
});
