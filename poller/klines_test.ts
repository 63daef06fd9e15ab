import assert from "node:assert/strict";
import { type KlineWindow, parseKlines } from "./klines.ts";
import { simKlines } from "./sim_klines.ts";

/** Backpack's answer as it comes: every field a string, `start` in UTC without a zone. */
const FIXTURE = [
  {
    start: "2025-07-19 13:09:00",
    end: "2025-07-19 13:10:00",
    open: "118238",
    high: "118297.6",
    low: "118237.5",
    close: "118294.6",
    volume: "0.03473",
    quoteVolume: "4106.558156",
    trades: "12",
  },
  {
    start: "2025-07-19 13:10:00",
    end: "2025-07-19 13:11:00",
    open: "118294.6",
    high: "118294.6",
    low: "118294.6",
    close: "118294.6",
    volume: "0",
    quoteVolume: "0",
    trades: "0",
  },
];

/** Any minute: the window tests below narrow it. */
const ANY: KlineWindow = { fromMs: 0, toMs: Infinity, nowMs: Infinity };

Deno.test("klines: Backpack's answer becomes exact 1-minute candles; a minute without trades is none", () => {
  const { candles, refused } = parseKlines(FIXTURE, "BTC", ANY);
  assert.equal(refused, 0);
  assert.deepEqual(candles, [{
    asset: "BTC",
    t: Date.UTC(2025, 6, 19, 13, 9),
    o: 11823800n,
    h: 11829760n,
    l: 11823750n,
    c: 11829460n,
    n: 12,
  }]);
  const after = { ...ANY, fromMs: Date.UTC(2025, 6, 19, 13, 10) };
  assert.deepEqual(parseKlines(FIXTURE, "BTC", after).candles, []);
});

Deno.test("klines: anything malformed is refused, never rounded, never thrown", () => {
  const good = FIXTURE[0]!;
  const bad: unknown[] = [
    null,
    42,
    "text",
    { ...good, start: "2025-07-19T13:09:30" }, // not a minute's start
    { ...good, start: "yesterday" },
    { ...good, open: "118238.001" }, // more decimals than BTC's 2
    { ...good, high: "1e6" },
    { ...good, low: "-1" },
    { ...good, close: 118294.6 }, // a number, not a string
    { ...good, high: "100" }, // high below open
    { ...good, trades: "many" },
    { ...good, open: undefined },
    { ...good, start: "2026-13-45 99:99:00" }, // Date.UTC would roll it over into 2027
    { ...good, start: "2025-02-29 13:09:00" }, // no such day: not 1 March
    { ...good, start: "2025-07-19 24:00:00" }, // not the next midnight
  ];
  const { candles, refused } = parseKlines(bad, "BTC", ANY);
  assert.deepEqual(candles, []);
  assert.equal(refused, bad.length);
  assert.deepEqual(parseKlines({ error: "rate limited" }, "BTC", ANY), { candles: [], refused: 1 });
  assert.equal(parseKlines(Array(5000).fill(good), "BTC", ANY).refused, 5000 - 2880, "capped");
});

Deno.test("klines: the simulator's history parses, is deterministic, and lies within each range", () => {
  const market = { market: "SOL_USDC_PERP", mid: 150, decimals: 2 };
  const from = Date.UTC(2026, 0, 1);
  const first = simKlines(market, 42, from, from + 3_600_000);
  assert.equal(first.length, 61);
  assert.deepEqual(simKlines(market, 42, from + 600_000, from + 660_000), first.slice(10, 12));
  const { candles, refused } = parseKlines(first, "SOL", ANY);
  assert.equal(refused, 0);
  assert.equal(candles.length, 61);
  for (const c of candles) {
    assert.ok(c.l <= c.o && c.o <= c.h && c.l <= c.c && c.c <= c.h);
    assert.ok(c.o > 1_480_000n && c.o < 1_520_000n, `${c.o} near 150`);
  }
  assert.equal(candles[1]!.o, candles[0]!.c, "each minute opens at the last one's close");
});

Deno.test("klines: only minutes in the window asked for, and none after now", () => {
  const minute = (m: number) => Date.UTC(2025, 6, 19, 13, m);
  const at = (m: number) => ({
    ...FIXTURE[0]!,
    start: `2025-07-19 13:${String(m).padStart(2, "0")}:00`,
  });
  const answer = [at(0), at(1), at(5), at(9), at(10), at(30)];
  const window = { fromMs: minute(1), toMs: minute(10), nowMs: minute(30) };
  const { candles, refused } = parseKlines(answer, "BTC", window);
  assert.deepEqual(candles.map((c) => c.t), [minute(1), minute(5), minute(9)], "[from, to)");
  assert.equal(refused, 3, "before the window, at its end, after it");
  const late = parseKlines(answer, "BTC", { fromMs: 0, toMs: minute(60), nowMs: minute(9) });
  assert.deepEqual(late.candles.map((c) => c.t), [minute(0), minute(1), minute(5), minute(9)]);
  assert.equal(late.refused, 2, "minutes after now are refused");
});

Deno.test("klines: zeros past the asset's scale are accepted, exactly; other digits are not", () => {
  const padded = { ...FIXTURE[0]!, open: "118238.000", high: "118297.600", close: "118294.60" };
  const { candles, refused } = parseKlines([padded], "BTC", ANY);
  assert.equal(refused, 0);
  assert.deepEqual([candles[0]!.o, candles[0]!.h, candles[0]!.c], [
    11823800n,
    11829760n,
    11829460n,
  ]);
  assert.equal(parseKlines([{ ...padded, open: "118238.001" }], "BTC", ANY).refused, 1);
});
