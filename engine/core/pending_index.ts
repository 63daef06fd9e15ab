/**
 * Per-asset trigger indexes of pending orders, one heap per (side, order type), each checked
 * against the quote side that would fill it, at the same O(log n + triggered) cost as the
 * positions' (triggers.ts); and the one queue of expiry times, checked on every entry.
 *
 * | order       | fills when             | heap                     |
 * | long limit  | ask <= triggerPrice    | highest trigger on top   |
 * | long stop   | ask >= triggerPrice    | lowest trigger on top    |
 * | short limit | bid >= triggerPrice    | lowest trigger on top    |
 * | short stop  | bid <= triggerPrice    | highest trigger on top   |
 */
import type { PendingOrder } from "./state.ts";
import { TrackedHeap } from "./triggers.ts";

export class PendingIndex {
  readonly longLimit = new TrackedHeap(true);
  readonly longStop = new TrackedHeap(false);
  readonly shortLimit = new TrackedHeap(false);
  readonly shortStop = new TrackedHeap(true);
  /** Orders waiting here: with none, a quote looks at no heap (most assets, most of the time). */
  size = 0;

  #heapOf(order: PendingOrder): TrackedHeap {
    const limit = order.orderType === "limit";
    if (order.side === "long") return limit ? this.longLimit : this.longStop;
    return limit ? this.shortLimit : this.shortStop;
  }

  add(order: PendingOrder): void {
    this.#heapOf(order).add(order.triggerPrice, order.ticket);
    this.size++;
  }

  /** Bookkeeping for an order that stopped waiting (or was replaced); kills its ticket. */
  remove(order: PendingOrder): void {
    order.ticket.live = false;
    this.#heapOf(order).dropped();
    this.size--;
  }

  /** Seqs of the pending orders the quote fills, unsorted. */
  collect(bid: bigint, ask: bigint, out: number[]): void {
    if (this.size === 0) return;
    this.longLimit.collect(ask, out);
    this.longStop.collect(ask, out);
    this.shortLimit.collect(bid, out);
    this.shortStop.collect(bid, out);
  }
}

/**
 * Pending orders by expiry time. `dueMs` is the earliest time in it (possibly of an order that
 * no longer waits), as a number: every entry compares its time with it, so an entry with
 * nothing due costs one comparison and no bigint.
 */
export class ExpiryQueue {
  readonly expiries = new TrackedHeap(false);
  dueMs = Number.POSITIVE_INFINITY;

  /** Orders the pending index holds; each with an expiry has an entry here under its ticket. */
  add(order: PendingOrder): void {
    if (order.expiresAtMs === undefined) return;
    this.expiries.add(BigInt(order.expiresAtMs), order.ticket);
    this.#refresh();
  }

  /** After PendingIndex.remove killed the order's ticket. */
  remove(order: PendingOrder): void {
    if (order.expiresAtMs === undefined) return;
    this.expiries.dropped();
    this.#refresh();
  }

  /** Seqs of the waiting orders that expire at or before `nowMs`, unsorted. */
  collect(nowMs: number, out: number[]): void {
    if (nowMs < this.dueMs) return;
    this.expiries.collect(BigInt(nowMs), out);
    this.#refresh();
  }

  #refresh(): void {
    const level = this.expiries.heap.peekLevel();
    this.dueMs = level === undefined ? Number.POSITIVE_INFINITY : Number(level);
  }
}
