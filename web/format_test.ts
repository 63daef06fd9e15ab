/// <reference lib="deno.ns" />
// The page's money and price text: integers only.
import assert from "node:assert/strict";
import { price, usd } from "./format.ts";

Deno.test("cents and prices are written from their integers", () => {
  assert.equal(usd(123_456_78n), "$123,456.78");
  assert.equal(usd(-5n), "-$0.05");
  assert.equal(price("BTC", 9_700_050n), "97,000.50");
  assert.equal(price("SOL", 1_500_000n), "150.0000");
});
