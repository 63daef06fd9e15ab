import assert from "node:assert/strict";
import { makePosition } from "./positions.ts";
import type { Position, PositionFields } from "./state.ts";
import { rearmPrice, TriggerIndex } from "./triggers.ts";

function position(seq: number, side: "long" | "short", levels: Partial<PositionFields>): Position {
  return makePosition({
    seq,
    userId: "u",
    asset: "BTC",
    side,
    marginCents: 100n,
    leverage: 1,
    entryPrice: 100n,
    quantity: 1n,
    liquidationPrice: side === "long" ? 10n : 1000n,
    warningPrice: side === "long" ? 20n : 500n,
    marginCalled: false,
    stopLoss: undefined,
    takeProfit: undefined,
    openedAtMs: 0,
    ...levels,
  });
}

Deno.test("a long waits on max(stop-loss, liquidation) below and take-profit above the bid", () => {
  const index = new TriggerIndex();
  index.add(position(1, "long", { stopLoss: 90n, takeProfit: 120n }));
  index.add(position(2, "long", { stopLoss: 5n })); // below liquidation: liquidation rules
  const fired: number[] = [];
  index.collect(91n, 200n, fired);
  assert.deepEqual(fired, []);
  index.collect(90n, 200n, fired);
  assert.deepEqual(fired, [1]);
  index.collect(10n, 200n, fired);
  assert.deepEqual(fired, [1, 2]);
});

Deno.test("a short waits on min(stop-loss, liquidation) above and take-profit below the ask", () => {
  const index = new TriggerIndex();
  index.add(position(1, "short", { stopLoss: 110n, takeProfit: 80n }));
  const fired: number[] = [];
  index.collect(0n, 81n, fired);
  assert.deepEqual(fired, []);
  index.collect(0n, 80n, fired);
  assert.deepEqual(fired, [1]);
});

Deno.test("closed positions are skipped and compacted away", () => {
  const index = new TriggerIndex();
  const open = new Set<number>();
  const positions = new Map<number, Position>();
  for (let seq = 1; seq <= 5000; seq++) {
    const p = position(seq, "long", { takeProfit: 1000n + BigInt(seq) });
    index.add(p);
    open.add(seq);
    positions.set(seq, p);
  }
  for (let seq = 1; seq <= 4990; seq++) {
    open.delete(seq);
    index.remove(positions.get(seq)!);
  }
  assert.ok(index.longUp.heap.size < 5000, "dead entries were compacted");
  const fired: number[] = [];
  index.collect(1_000_000n, 1_000_000n, fired);
  assert.deepEqual(fired.filter((s) => s > 4990).length, 10);
  assert.ok(fired.every((s) => open.has(s)));
});

Deno.test("a replaced position's old levels are dead: only its new ones fire", () => {
  const index = new TriggerIndex();
  const first = position(1, "long", { stopLoss: 90n });
  index.add(first);
  index.remove(first);
  const second = position(1, "long", { stopLoss: 80n });
  index.add(second);
  const fired: number[] = [];
  index.collect(85n, 200n, fired);
  assert.deepEqual(fired, [], "the old stop-loss at 90 no longer stands");
  index.collect(80n, 200n, fired);
  assert.deepEqual(fired, [1]);
});

Deno.test("a margin call fires at the warning price and re-arms only past its re-arm price, each side", () => {
  const index = new TriggerIndex();
  // Liquidation, warning and re-arm prices a maintenance margin apart: 10 / 20 / 30 for the
  // long (bid), 600 / 500 / 400 for the short (ask).
  const levels = { liquidationPrice: 600n, warningPrice: 500n };
  const long = position(1, "long", {});
  const short = position(2, "short", levels);
  assert.equal(rearmPrice(long), 30n);
  assert.equal(rearmPrice(short), 400n);
  index.add(long);
  index.add(short);
  const warned: number[] = [];
  index.collectWarnings(21n, 499n, warned);
  assert.deepEqual(warned, [], "neither quote reached its warning price");
  index.collectWarnings(20n, 500n, warned);
  assert.deepEqual(warned.sort(), [1, 2], "bid <= 20 for the long, ask >= 500 for the short");
  // The engine then replaces each with its call fired: it waits to re-arm, strictly past.
  index.remove(long);
  index.remove(short);
  index.add(position(1, "long", { marginCalled: true }));
  index.add(position(2, "short", { ...levels, marginCalled: true }));
  const again: number[] = [];
  index.collectWarnings(20n, 500n, again);
  index.collectWarnings(15n, 600n, again);
  assert.deepEqual(again, [], "no second call while beyond; at the level is still beyond");
  index.collectWarnings(21n, 499n, again);
  index.collectWarnings(30n, 400n, again);
  assert.deepEqual(
    again,
    [],
    "back past the warning price, not past the re-arm price: still called",
  );
  index.collectWarnings(31n, 399n, again);
  assert.deepEqual(again.sort(), [1, 2], "past the re-arm price: re-armed");
  assert.equal(index.longWarnUp.live, 1, "one live ticket in the long's re-arm heap");
});
