/// <reference lib="deno.ns" />
// The ticket's preview: with fees, the commission the open would take, as the engine works it out.
import assert from "node:assert/strict";
import { feeCents, maxOpenFeeCents, quantityFor } from "@trading/shared/position_math";
import { previewRows, type Ticket } from "./ticket.ts";

const market = { asset: "BTC", margin: 10_000n, leverage: 20, slippage: 100 } as Ticket;
const quote = { bid: 9_696_000n, ask: 9_697_010n };

Deno.test("without fees the preview has no fee row", () => {
  const rows = previewRows(market, "long", quote, 50) as Array<[string, string]>;
  assert.deepEqual(rows.map(([name]) => name), [
    "Entry (now)",
    "Position size",
    "Liquidation price",
  ]);
});

Deno.test("with fees a market order shows the engine's fee at the entry quote", () => {
  const rows = previewRows(market, "long", quote, 50, 10) as Array<[string, string]>;
  const quantity = quantityFor("BTC", 10_000n, 20, quote.ask);
  const fee = feeCents("BTC", quote.ask, quantity, 10);
  assert.equal(fee, 200n); // $2,000.00 of BTC at 10 bps, rounded up to the cent
  assert.deepEqual(rows.at(-1), ["Fee", "$2.00"]);
});

Deno.test("with fees a pending order shows the most its reserve can be", () => {
  const limit = { ...market, orderType: "limit", triggerPrice: "95000" } as unknown as Ticket;
  const rows = previewRows(limit, "long", quote, 50, 25) as Array<[string, string]>;
  assert.equal(maxOpenFeeCents(10_000n, 20, 25), 500n);
  assert.deepEqual(rows.at(-1), ["Fee (reserved, at most)", "$5.00"]);
});
