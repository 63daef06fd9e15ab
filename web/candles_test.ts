/// <reference lib="deno.ns" />
// The chart's candles: interval starts, parsing the API's candles, merging live ones into history.
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type Candle,
  candleChannel,
  candlesFrom,
  INTERVAL_MS,
  INTERVALS,
  intervalStart,
  isInterval,
  mergeCandle,
  parseCandle,
} from "./candles.ts";

const T0 = Date.UTC(2026, 10, 29, 16, 0); // a whole day, hour and minute

const row = (t: number, c: string, n = 1, extra: Record<string, unknown> = {}) => ({
  t,
  o: "97000",
  h: "97100.5",
  l: "96900",
  c,
  n,
  ...extra,
});

const candle = (t: number, n: number, c = 100n): Candle => ({ t, o: c, h: c, l: c, c, n });

Deno.test("an interval starts at a multiple of its length since the epoch (UTC days)", () => {
  assert.equal(intervalStart(T0 + 59_999, "1m"), T0);
  assert.equal(intervalStart(T0 + 60_000, "1m"), T0 + 60_000);
  assert.equal(intervalStart(T0 + 14 * 60_000 + 1, "5m"), T0 + 10 * 60_000);
  assert.equal(intervalStart(T0 + 3_599_999, "1h"), T0);
  assert.equal(intervalStart(T0 + 3 * 3_600_000, "4h"), T0);
  assert.equal(intervalStart(T0 + 5 * 3_600_000, "4h"), T0 + 4 * 3_600_000);
  assert.equal(intervalStart(T0 + 7 * 3_600_000, "1d"), Date.UTC(2026, 10, 29));
  fc.assert(fc.property(fc.nat(2 ** 45), fc.constantFrom(...INTERVALS), (ms, interval) => {
    const start = intervalStart(ms, interval);
    return start <= ms && ms - start < INTERVAL_MS[interval] &&
      intervalStart(start, interval) === start;
  }));
  assert.equal(candleChannel("ETH", "15m"), "candles.ETH.15m");
  assert.ok(isInterval("4h"));
  assert.ok(!isInterval("2m") && !isInterval(60));
});

Deno.test("a candle from the API becomes integer price units; a bad one is dropped", () => {
  assert.deepEqual(parseCandle("BTC", "1m", row(T0, "97050.25", 12)), {
    t: T0,
    o: 9_700_000n,
    h: 9_710_050n,
    l: 9_690_000n,
    c: 9_705_025n,
    n: 12,
  });
  const bad: Array<Record<string, unknown>> = [
    row(T0 + 1, "97000"), // not the interval's start
    row(T0 + 60_000, "97000"), // a 1m start, but not a 5m one (checked below at 5m)
    row(T0, "97000.001"), // more decimals than BTC's scale
    row(T0, "97200"), // close above the high
    row(T0, "97000", 0), // no quotes
    row(T0, "97000", 1.5),
    { ...row(T0, "97000"), l: "97200" }, // low above the high
    { ...row(T0, "97000"), o: undefined },
    { ...row(T0, "97000"), t: "1764432000000" },
    { ...row(T0, "0"), o: "0", l: "0" },
  ];
  for (const [i, fields] of bad.entries()) {
    assert.equal(parseCandle("BTC", i === 1 ? "5m" : "1m", fields), undefined, `case ${i}`);
  }
});

Deno.test("a live candle replaces the last, appends a new one, or updates an older one", () => {
  const candles = [candle(T0, 3), candle(T0 + 60_000, 5)];
  assert.equal(mergeCandle(candles, candle(T0 + 60_000, 6, 101n)), "last");
  assert.equal(candles[1]!.c, 101n);
  assert.equal(mergeCandle(candles, candle(T0 + 60_000, 4, 99n)), "unchanged"); // fewer quotes
  assert.equal(candles[1]!.c, 101n);
  assert.equal(mergeCandle(candles, candle(T0, 4, 98n)), "older");
  assert.equal(candles[0]!.c, 98n);
  // Older than the history, or in a gap: never invented.
  assert.equal(mergeCandle(candles, candle(T0 - 60_000, 9)), "unchanged");
  assert.equal(mergeCandle(candles, candle(T0 + 180_000, 1)), "appended");
  assert.equal(mergeCandle(candles, candle(T0 + 120_000, 9)), "unchanged");
  assert.deepEqual(candles.map((c) => c.t), [T0, T0 + 60_000, T0 + 180_000]);
});

Deno.test("at most `max` candles are kept: the oldest go", () => {
  const candles: Candle[] = [];
  for (let i = 0; i < 10; i++) mergeCandle(candles, candle(T0 + i * 60_000, 1), 4);
  assert.deepEqual(candles.map((c) => (c.t - T0) / 60_000), [6, 7, 8, 9]);
});

Deno.test("history and live candles merge to the same candles in any order", () => {
  // A history with a version of each of 8 starts, and later versions of them arriving live in
  // any order (a reload's answer and the updates that came while it loaded): each start ends as
  // its version with the most quotes, whatever the order.
  const version = fc.record({ slot: fc.nat(7), n: fc.integer({ min: 1, max: 50 }) });
  const arrivals = fc.array(version, { maxLength: 40 });
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 8, maxLength: 8 }),
      arrivals,
      fc.infiniteStream(fc.nat()),
      (firstN, live, shuffleSeeds) => {
        const make = (slot: number, n: number) => candle(T0 + slot * 60_000, n, BigInt(n));
        const history = firstN.map((n, slot) => make(slot, n));
        const expected = firstN.map((n, slot) =>
          Math.max(n, ...live.filter((v) => v.slot === slot).map((v) => v.n))
        );
        const shuffled = live.map((v) => ({ v, key: shuffleSeeds.next().value as number }))
          .sort((a, b) => a.key - b.key).map(({ v }) => v);
        for (const order of [live, shuffled, [...live].reverse()]) {
          const merged = [...history];
          for (const { slot, n } of order) mergeCandle(merged, make(slot, n));
          assert.deepEqual(merged.map((c) => c.n), expected);
          assert.deepEqual(merged.map((c) => c.c), expected.map(BigInt));
        }
      },
    ),
  );
});

Deno.test("a history list keeps the good candles, in order, and drops the rest", () => {
  const candles = candlesFrom(
    "SOL",
    "1m",
    [
      row(T0, "150.1234"),
      "not a candle",
      null,
      row(T0 + 1, "150"),
      row(T0 + 60_000, "150.12345"), // SOL has 4 decimals: refused
      row(T0 + 120_000, "150", 3),
      row(T0 + 60_000, "150", 2), // out of order, in a gap: dropped
    ].map((r) => typeof r === "object" && r !== null ? { ...r, h: "151", l: "149", o: "150" } : r),
  );
  assert.deepEqual(candles.map((c) => [c.t - T0, c.c, c.n]), [
    [0, 1_501_234n, 1],
    [120_000, 1_500_000n, 3],
  ]);
});
