import assert from "node:assert/strict";
import fc from "fast-check";
import {
  feeCents,
  liquidationPrice,
  marginLevelPercent,
  maxOpenFeeCents,
  quantityFor,
  warningPrice,
} from "./position_math.ts";

Deno.test("a fee is ceil(exact notional × bps / 10000): the notional is not floored to cents first", () => {
  // 0.01 BTC at 100000.00: 100000 cents; 10 bps is 100 cents.
  assert.equal(feeCents("BTC", 10_000_000n, 1_000_000n, 10), 100n);
  // 0.01000005 BTC at 100000.00 is 100000.5 cents: exact, 100.0005 → 101 (floored first: 100).
  assert.equal(feeCents("BTC", 10_000_000n, 1_000_005n, 10), 101n);
  assert.equal(feeCents("BTC", 10_000_000n, 1_000_005n, 0), 0n);
  // A sliver still pays a cent.
  assert.equal(feeCents("SOL", 1_500_000n, 1n, 1), 1n);
});

Deno.test("the fee a pending order reserves bounds its opening fee at any fill price", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 100, max: 10_000_000 }),
      fc.integer({ min: 1, max: 100 }),
      fc.integer({ min: 1, max: 1_000 }),
      fc.bigInt({ min: 1n, max: 100_000_000_000n }),
      (margin, leverage, bps, fill) => {
        const quantity = quantityFor("BTC", BigInt(margin), leverage, fill);
        const fee = feeCents("BTC", fill, quantity, bps);
        assert.ok(fee <= maxOpenFeeCents(BigInt(margin), leverage, bps), `${fee}`);
      },
    ),
    { numRuns: 2000, seed: 7 },
  );
});

Deno.test("the warning price is the liquidation rule at twice the maintenance: nearer the entry", () => {
  const q = 1_000_000n; // 0.01 BTC at 100000.00, margin 10000 cents (10x), MMR 50 bps
  assert.equal(liquidationPrice("BTC", "long", 10_000_000n, q, 10_000n, 50), 9_050_000n);
  assert.equal(warningPrice("BTC", "long", 10_000_000n, q, 10_000n, 50), 9_100_000n);
  assert.equal(liquidationPrice("BTC", "short", 10_000_000n, q, 10_000n, 50), 10_950_000n);
  assert.equal(warningPrice("BTC", "short", 10_000_000n, q, 10_000n, 50), 10_900_000n);
  // 100x at 50 bps: the margin is exactly twice the maintenance, so the warning is the entry.
  assert.equal(warningPrice("BTC", "long", 10_000_000n, 10_000_000n, 10_000n, 50), 10_000_000n);
});

Deno.test("the margin level has exactly two decimals, rounds down and is null without margin", () => {
  assert.equal(marginLevelPercent(123_456n, 10_000n), "1234.56");
  assert.equal(marginLevelPercent(10_000n, 10_000n), "100.00");
  assert.equal(marginLevelPercent(1n, 30_000n), "0.00");
  assert.equal(marginLevelPercent(2n, 3n), "66.66");
  assert.equal(marginLevelPercent(-1n, 3n), "-33.34");
  assert.equal(marginLevelPercent(500_000n, 0n), null);
});
