/**
 * Per-asset trigger indexes: a price entry looks only at heap tops, so it costs
 * O(log n + triggered) however many positions are open. Closed positions are removed lazily
 * (skipped when they surface) and a heap is compacted once it is mostly dead entries.
 */
import { LevelHeap } from "./heap.ts";
import type { Position } from "./state.ts";

const COMPACT_SLACK = 1024;

class TrackedHeap {
  readonly heap: LevelHeap;
  /** Open positions that have an entry in this heap. */
  live = 0;

  constructor(descending: boolean) {
    this.heap = new LevelHeap(descending);
  }

  add(level: bigint, seq: number): void {
    this.heap.push(level, seq);
    this.live++;
  }

  /** Pops every entry whose level is crossed by `price`, appending the open ones to `out`. */
  collect(price: bigint, isOpen: (seq: number) => boolean, out: number[]): void {
    const heap = this.heap;
    const falling = heap.descending;
    for (;;) {
      const level = heap.peekLevel();
      if (level === undefined || (falling ? price > level : price < level)) return;
      const seq = heap.pop();
      if (isOpen(seq)) out.push(seq);
    }
  }

  compactIfSparse(isOpen: (seq: number) => boolean): void {
    if (this.heap.size > 2 * this.live + COMPACT_SLACK) this.heap.filter(isOpen);
  }
}

/** Where a position waits to be triggered, from its side and levels. */
export function downLevel(position: Position): bigint | undefined {
  if (position.side === "long") {
    const sl = position.stopLoss;
    return sl !== undefined && sl > position.liquidationPrice ? sl : position.liquidationPrice;
  }
  return position.takeProfit;
}

export function upLevel(position: Position): bigint | undefined {
  if (position.side === "short") {
    const sl = position.stopLoss;
    return sl !== undefined && sl < position.liquidationPrice ? sl : position.liquidationPrice;
  }
  return position.takeProfit;
}

export class TriggerIndex {
  /** Longs checked against the bid; shorts against the ask. Down heaps fire on price <= level. */
  readonly longDown = new TrackedHeap(true);
  readonly longUp = new TrackedHeap(false);
  readonly shortDown = new TrackedHeap(true);
  readonly shortUp = new TrackedHeap(false);

  add(position: Position): void {
    const down = downLevel(position);
    const up = upLevel(position);
    const long = position.side === "long";
    if (down !== undefined) (long ? this.longDown : this.shortDown).add(down, position.seq);
    if (up !== undefined) (long ? this.longUp : this.shortUp).add(up, position.seq);
  }

  /** Bookkeeping for a position that left the book, whichever way it left. */
  remove(position: Position, isOpen: (seq: number) => boolean): void {
    const long = position.side === "long";
    if (downLevel(position) !== undefined) {
      const heap = long ? this.longDown : this.shortDown;
      heap.live--;
      heap.compactIfSparse(isOpen);
    }
    if (upLevel(position) !== undefined) {
      const heap = long ? this.longUp : this.shortUp;
      heap.live--;
      heap.compactIfSparse(isOpen);
    }
  }

  /** Seqs of the open positions the quote triggers, unsorted, possibly repeated. */
  collect(bid: bigint, ask: bigint, isOpen: (seq: number) => boolean, out: number[]): void {
    this.longDown.collect(bid, isOpen, out);
    this.longUp.collect(bid, isOpen, out);
    this.shortDown.collect(ask, isOpen, out);
    this.shortUp.collect(ask, isOpen, out);
  }
}
