import assert from "node:assert/strict";
import {
  ceilDiv,
  DecimalError,
  floorDiv,
  formatDecimal,
  MAX_UNITS,
  parseDecimal,
} from "./money.ts";

Deno.test("parseDecimal scales exactly", () => {
  assert.equal(parseDecimal("97000.5", 2), 9700050n);
  assert.equal(parseDecimal("97000.55", 2), 9700055n);
  assert.equal(parseDecimal("97000", 2), 9700000n);
  assert.equal(parseDecimal("0.00000001", 8), 1n);
  assert.equal(parseDecimal("0", 2), 0n);
  assert.equal(parseDecimal("007.10", 2), 710n);
  assert.equal(parseDecimal("-12.3", 2, { allowNegative: true }), -1230n);
});

Deno.test("parseDecimal refuses what it cannot represent exactly", () => {
  const refused: Array<[string, number, RegExp]> = [
    ["97000.555", 2, /3 decimals; at most 2/],
    ["1e5", 2, /not a plain decimal/],
    ["1E5", 2, /not a plain decimal/],
    ["NaN", 2, /not a plain decimal/],
    ["Infinity", 2, /not a plain decimal/],
    ["", 2, /not a plain decimal/],
    [" 1", 2, /not a plain decimal/],
    ["1 ", 2, /not a plain decimal/],
    ["+1", 2, /not a plain decimal/],
    ["1.", 2, /not a plain decimal/],
    [".5", 2, /not a plain decimal/],
    ["0x10", 2, /not a plain decimal/],
    ["1,5", 2, /not a plain decimal/],
    ["٣", 2, /not a plain decimal/],
    ["-1", 2, /must not be negative/],
    ["10000000000000000", 2, /too large/],
    ["1".repeat(31), 0, /not a plain decimal/],
  ];
  for (const [text, scale, message] of refused) {
    assert.throws(() => parseDecimal(text, scale), (error: unknown) => {
      assert.ok(error instanceof DecimalError, `${text}: ${error}`);
      assert.match(error.message, message, text);
      return true;
    });
  }
  assert.throws(() => parseDecimal("0", 2, { allowZero: false }), /greater than zero/);
  assert.throws(() => parseDecimal("5", 2, { maxUnits: 500n }), /too large/);
  assert.throws(() => parseDecimal(12 as unknown as string, 2), /must be a string/);
  assert.throws(() => parseDecimal("1", 1.5), /scale/);
});

Deno.test("parseDecimal accepts values just under the bound", () => {
  const largest = (MAX_UNITS - 1n).toString();
  assert.equal(parseDecimal(largest, 0), MAX_UNITS - 1n);
  assert.throws(() => parseDecimal(MAX_UNITS.toString(), 0), /too large/);
});

Deno.test("formatDecimal writes the shortest exact form and round-trips", () => {
  assert.equal(formatDecimal(9700050n, 2), "97000.5");
  assert.equal(formatDecimal(9700000n, 2), "97000");
  assert.equal(formatDecimal(1n, 8), "0.00000001");
  assert.equal(formatDecimal(0n, 2), "0");
  assert.equal(formatDecimal(-1230n, 2), "-12.3");
  assert.equal(formatDecimal(-5n, 2), "-0.05");
  assert.equal(formatDecimal(42n, 0), "42");
  for (const units of [0n, 1n, 99n, 100n, 123456789n, -7n, -100001n]) {
    for (const scale of [0, 2, 4, 8]) {
      assert.equal(
        parseDecimal(formatDecimal(units, scale), scale, { allowNegative: true }),
        units,
      );
    }
  }
});

Deno.test("floorDiv and ceilDiv round toward minus and plus infinity", () => {
  assert.equal(floorDiv(7n, 2n), 3n);
  assert.equal(floorDiv(-7n, 2n), -4n);
  assert.equal(floorDiv(7n, -2n), -4n);
  assert.equal(floorDiv(-7n, -2n), 3n);
  assert.equal(floorDiv(-6n, 2n), -3n);
  assert.equal(ceilDiv(7n, 2n), 4n);
  assert.equal(ceilDiv(-7n, 2n), -3n);
  assert.equal(ceilDiv(6n, 2n), 3n);
  assert.throws(() => floorDiv(1n, 0n), RangeError);
});

Deno.test("parseDecimal: zeros past the scale only with allowTrailingZeros, exact, never rounded", () => {
  assert.throws(() => parseDecimal("97000.500", 2), DecimalError, "refused by default");
  assert.equal(parseDecimal("97000.500", 2, { allowTrailingZeros: true }), 9700050n);
  assert.equal(parseDecimal("7.000000", 0, { allowTrailingZeros: true }), 7n);
  assert.throws(() => parseDecimal("97000.501", 2, { allowTrailingZeros: true }), DecimalError);
  assert.throws(() => parseDecimal("97000.5001", 2, { allowTrailingZeros: true }), DecimalError);
});
