import assert from "node:assert/strict";
import fc from "fast-check";
import { LevelHeap } from "./heap.ts";

Deno.test("LevelHeap pops levels in order, ties by lower seq", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.bigInt({ min: 0n, max: 50n }), fc.nat(1000)), { maxLength: 200 }),
      fc.boolean(),
      (items, descending) => {
        const heap = new LevelHeap(descending);
        items.forEach(([level], seq) => heap.push(level, { seq, live: true }));
        const sign = descending ? -1 : 1;
        const expected = items.map(([level], seq) => ({ level, seq }))
          .sort((a, b) => {
            if (a.level === b.level) return a.seq - b.seq;
            return a.level < b.level ? -sign : sign;
          }).map((x) => x.seq);
        const popped: number[] = [];
        while (heap.size > 0) popped.push(heap.pop().seq);
        assert.deepEqual(popped, expected);
      },
    ),
    { numRuns: 300, seed: 7 },
  );
});

Deno.test("LevelHeap.filter keeps a valid heap of the kept entries", () => {
  const heap = new LevelHeap(false);
  for (let seq = 0; seq < 100; seq++) heap.push(BigInt((seq * 37) % 101), { seq, live: true });
  heap.filter((ticket) => ticket.seq % 3 === 0);
  assert.equal(heap.size, 34);
  let last = -1n;
  while (heap.size > 0) {
    const level = heap.peekLevel()!;
    assert.ok(level >= last);
    last = level;
    assert.equal(heap.pop().seq % 3, 0);
  }
});
