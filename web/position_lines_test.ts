/// <reference lib="deno.ns" />
// The chart's lines for open positions: which, in which order, at which integer prices.
import assert from "node:assert/strict";
import type { OpenTrade } from "./orders.ts";
import { MAX_LINED_POSITIONS, positionLines } from "./position_lines.ts";

const trade = (orderId: string, fields: Partial<OpenTrade> = {}): OpenTrade => ({
  orderId,
  asset: "BTC",
  type: "long",
  margin: 10_000n,
  leverage: 10,
  openPrice: "97000.5",
  quantity: "0.01030927",
  liquidationPrice: "87785",
  openedAt: 1,
  ...fields,
});

Deno.test("each position of the shown asset gets its levels as lines, in integer units", () => {
  const lines = positionLines([
    trade("7", { stopLoss: "90000", takeProfit: "120000", warningPrice: "92392.25" }),
    trade("8", { asset: "ETH", openPrice: "3500", liquidationPrice: "3200" }),
    trade("9", { type: "short", openPrice: "97100", liquidationPrice: "106000" }),
  ], "BTC");
  assert.deepEqual(lines.map((l) => [l.title, l.kind, l.units]), [
    ["#7 entry", "entry", 9_700_050n],
    ["#7 SL", "stopLoss", 9_000_000n],
    ["#7 TP", "takeProfit", 12_000_000n],
    ["#7 margin call", "warning", 9_239_225n],
    ["#7 liq.", "liquidation", 8_778_500n],
    ["#9 entry", "entry", 9_710_000n],
    ["#9 liq.", "liquidation", 10_600_000n],
  ]);
  assert.deepEqual(positionLines([trade("8", { asset: "ETH" })], "SOL"), []);
});

Deno.test("a level that does not parse, or is 0, gets no line", () => {
  const lines = positionLines([
    trade("7", { stopLoss: "90000.123", takeProfit: "abc", liquidationPrice: "0" }),
  ], "BTC");
  assert.deepEqual(lines.map((l) => l.title), ["#7 entry"]);
});

Deno.test(`at most ${MAX_LINED_POSITIONS} positions get lines: the most recent`, () => {
  const trades = Array.from({ length: MAX_LINED_POSITIONS + 5 }, (_, i) => trade(String(i + 1)));
  const lines = positionLines(trades, "BTC");
  const orderIds = new Set(lines.map((l) => l.orderId));
  assert.equal(orderIds.size, MAX_LINED_POSITIONS);
  assert.ok(!orderIds.has("5") && orderIds.has("6") && orderIds.has(String(trades.length)));
  assert.equal(lines.length, MAX_LINED_POSITIONS * 2); // entry and liquidation each
});
