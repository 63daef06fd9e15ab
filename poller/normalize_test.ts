import assert from "node:assert/strict";
import type { Asset } from "@trading/shared/assets";
import { normalizeFrame } from "./normalize.ts";

const markets = new Map<string, Asset>([["ETH_USDC_PERP", "ETH"], ["SOL_USDC_PERP", "SOL"]]);
const frame = (data: Record<string, unknown>, stream = "bookTicker.ETH_USDC_PERP") =>
  JSON.stringify({
    data: {
      A: "1.5",
      B: "2.25",
      E: 1732579200123456,
      T: 1732579200123000,
      a: "3500.01",
      b: "3499.99",
      e: "bookTicker",
      s: "ETH_USDC_PERP",
      u: 987654,
      ...data,
    },
    stream,
  });

Deno.test("a Backpack bookTicker frame becomes an exact price entry", () => {
  assert.deepEqual(normalizeFrame(frame({}), markets), {
    kind: "quote",
    market: "ETH_USDC_PERP",
    fields: { price: "ETH 349999 350001 1732579200123456" },
  });
  const sol = normalizeFrame(
    frame({ s: "SOL_USDC_PERP", a: "150.1234", b: "150.12" }, "bookTicker.SOL_USDC_PERP"),
    markets,
  );
  assert.ok(sol.kind === "quote");
  assert.equal(sol.fields.price, "SOL 1501200 1501234 1732579200123456");
});

Deno.test("frames that cannot be represented exactly are refused, not rounded", () => {
  const refused = [
    frame({ a: "3500.011" }),
    frame({ a: "3.5e3" }),
    frame({ b: "NaN" }),
    frame({ b: "-1" }),
    frame({ b: "0" }),
    frame({ b: "3600" }), // crossed
    frame({ e: "trade" }),
    frame({ a: 3500.01 }),
    frame({ E: -1 }),
    frame({}, "bookTicker.SOL_USDC_PERP"),
  ];
  for (const text of refused) assert.equal(normalizeFrame(text, markets).kind, "invalid", text);
});

Deno.test("subscription answers, other streams and unknown markets are ignored", () => {
  assert.equal(normalizeFrame('{"id":null,"result":null}', markets).kind, "ignored");
  assert.equal(
    normalizeFrame('{"stream":"trade.ETH_USDC_PERP","data":{}}', markets).kind,
    "ignored",
  );
  const btc = frame({ s: "BTC_USDC_PERP" }, "bookTicker.BTC_USDC_PERP");
  assert.equal(normalizeFrame(btc, markets).kind, "ignored");
  assert.equal(normalizeFrame("not json", markets).kind, "invalid");
  assert.equal(normalizeFrame("x".repeat(20_000), markets).kind, "invalid");
});
