import assert from "node:assert/strict";
import fc from "fast-check";
import { parsePriceBytes, parsePriceValue, type PriceEntry } from "./price.ts";

/** The price grammar as first written: split and regexes. The scanner must agree with it. */
function referencePrice(value: string): PriceEntry | string {
  if (value.length > 80) return "price: too long";
  const parts = value.split(" ");
  if (parts.length !== 4) return 'price: must be "<ASSET> <bid> <ask> <ts>"';
  const [asset, bid, ask, ts] = parts as [string, string, string, string];
  if (!/^[A-Z0-9]{1,10}$/.test(asset)) return "price: asset must be 1–10 capitals or digits";
  const unsigned = /^(0|[1-9][0-9]{0,17})$/;
  if (!unsigned.test(bid) || !unsigned.test(ask) || !unsigned.test(ts)) {
    return "price: bid, ask and ts must be non-negative integers";
  }
  if (BigInt(bid) === 0n || BigInt(ask) === 0n) {
    return "price: bid and ask must be greater than zero";
  }
  if (BigInt(bid) > BigInt(ask)) return "price: bid must not exceed ask";
  return { kind: "price", asset, bid: BigInt(bid), ask: BigInt(ask), ts: BigInt(ts) };
}

Deno.test("the price scanner agrees with the split-and-regex grammar on any text", () => {
  const token = fc.oneof(
    fc.constantFrom("BTC", "SOL", "btc", "B-C", "", "0", "00", "01", "-1", "1e3", " ", "+5"),
    fc.bigInt({ min: 0n, max: 10n ** 20n }).map(String),
    fc.integer({ min: 0, max: 2 ** 53 + 10 }).map(String),
    fc.stringMatching(/^[0-9A-Z]{0,12}$/),
  );
  const value = fc.oneof(
    fc.array(token, { minLength: 0, maxLength: 6 }).map((parts) => parts.join(" ")),
    fc.string({ maxLength: 90 }),
  );
  fc.assert(
    fc.property(value, (text) => {
      assert.deepEqual(parsePriceValue(text), referencePrice(text), JSON.stringify(text));
    }),
    { numRuns: 20_000 },
  );
  for (const digits of [15, 16, 17, 18]) {
    const n = "9".repeat(digits);
    assert.deepEqual(parsePriceValue(`ETH 1 ${n} ${n}`), referencePrice(`ETH 1 ${n} ${n}`));
  }
});

Deno.test("bytes and text scan to the same answer; bytes outside ASCII go back as text", () => {
  const encoder = new TextEncoder();
  const value = fc.oneof(
    fc.tuple(
      fc.constantFrom("BTC", "ETH", "SOL", "X1", "btc", "É", ""),
      fc.bigInt({ min: 0n, max: 10n ** 19n }).map(String),
      fc.constantFrom("0", "01", "-1", "1e3", "٣", "10"),
      fc.bigInt({ min: 0n, max: 10n ** 19n }).map(String),
    ).map((parts) => parts.join(" ")),
    fc.string({ maxLength: 90, unit: "grapheme" }),
  );
  fc.assert(
    fc.property(value, (text) => {
      const bytes = encoder.encode(text);
      const scanned = parsePriceBytes(bytes);
      const ascii = bytes.length === text.length;
      if (scanned === undefined) assert.ok(!ascii || bytes.length > 80, JSON.stringify(text));
      else assert.deepEqual(scanned, parsePriceValue(text), JSON.stringify(text));
    }),
    { numRuns: 20_000 },
  );
});
