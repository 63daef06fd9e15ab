import assert from "node:assert/strict";
import type { Candle } from "@trading/shared/candles";
import { foldQuotes, liveCandles } from "./candle_writer.ts";

const candle = (asset: string, interval: Candle["interval"], t: number, n: number): Candle => ({
  asset,
  interval,
  t,
  o: 9_700_050n,
  h: 9_800_000n,
  l: 9_600_000n,
  c: 9_750_000n,
  n,
});

Deno.test("liveCandles: per asset and interval the newest two, the later row of a repeated one", () => {
  const changed = [
    ...Array.from({ length: 10 }, (_, i) => candle("BTC", "1m", i * 60_000, 1)),
    candle("BTC", "1m", 9 * 60_000, 5), // the same minute again, from a later statement
    candle("SOL", "1h", 0, 3),
  ];
  const live = liveCandles(changed);
  assert.deepEqual(live.map((c) => `${c.asset} ${c.interval} ${c.t} ${c.n}`), [
    "BTC 1m 480000 1",
    "BTC 1m 540000 5",
    "SOL 1h 0 3",
  ]);
  assert.deepEqual(live[0], {
    asset: "BTC",
    interval: "1m",
    t: 480_000,
    o: "97000.5",
    h: "98000",
    l: "96000",
    c: "97500",
    n: 1,
  });
});

Deno.test("foldQuotes: one delta per asset and minute of the entry IDs, malformed entries skipped", () => {
  const batch = foldQuotes([
    ["60000-0", ["price", "BTC 100 101 1"]],
    ["60001-0", ["price", "BTC 90 91 1"]],
    ["119999-0", ["price", "BTC 95 96 1"]],
    ["120000-0", ["price", "BTC 200 201 1"]],
    ["120000-1", ["price", "ETH 7 8 1"]],
    ["120000-2", ["price", "BTC 0 1 1"]],
    ["120000-3", ["price", "XYZ 1 2 1"]],
    ["120000-4", ["price", "BTC 1 2 1", "extra", "field"]],
    ["120000-5", ["candle", "BTC 180000 5 9 1 6 3"]],
    ["120000-6", ["candle", "BTC 180000 5 9 1 7 4"]],
    ["120000-7", ["other", "x"]],
  ]);
  assert.deepEqual(
    batch.deltas.map((d) => `${d.asset} ${d.t} ${d.o} ${d.h} ${d.l} ${d.c} ${d.n} ${d.lastId}`),
    [
      "BTC 60000 100 100 90 95 3 119999-0",
      "BTC 120000 200 200 200 200 1 120000-0",
      "ETH 120000 7 7 7 7 1 120000-1",
    ],
  );
  assert.deepEqual(batch.klines.map((k) => `${k.t} ${k.c} ${k.n} ${k.id}`), [
    "180000 7 4 120000-6",
  ]);
  assert.equal(batch.skipped, 4);
});

Deno.test("foldQuotes: an exchange candle before its minute's first bid is kept, one after it dropped", () => {
  const batch = foldQuotes([
    ["60000-0", ["candle", "BTC 60000 5 9 1 6 3"]], // before minute 60000's bids: kept
    ["60001-0", ["price", "BTC 100 101 1"]],
    ["60002-0", ["candle", "BTC 60000 5 9 1 7 4"]], // after a bid of its minute: dropped
    ["60003-0", ["candle", "ETH 0 5 9 1 7 4"]], // another minute, no bids: kept
    ["60004-0", []], // trimmed before it was acknowledged: no fields
  ]);
  assert.deepEqual(batch.klines.map((k) => `${k.asset} ${k.t} ${k.n} ${k.id}`), [
    "BTC 60000 3 60000-0",
    "ETH 0 4 60003-0",
  ]);
  assert.deepEqual(batch.deltas.map((d) => `${d.t} ${d.n} ${d.lastId}`), ["60000 1 60001-0"]);
  assert.equal(batch.skipped, 1);
});
