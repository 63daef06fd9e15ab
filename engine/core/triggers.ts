/**
 * Per-asset trigger indexes of open positions: a price entry looks only at heap tops, so it
 * costs O(log n + triggered) however many positions are open. A position that leaves the book,
 * or changes its levels, kills its ticket (heap.ts): its entries are skipped when they surface,
 * and a heap is compacted once it is mostly dead entries.
 */
import { LevelHeap, type Ticket } from "./heap.ts";
import type { Position } from "./state.ts";

const COMPACT_SLACK = 1024;

/** A heap and how many of its entries are live; pending orders and expiries use it too. */
export class TrackedHeap {
  readonly heap: LevelHeap;
  /** Live tickets that have an entry in this heap. */
  live = 0;

  constructor(descending: boolean) {
    this.heap = new LevelHeap(descending);
  }

  add(level: bigint, ticket: Ticket): void {
    this.heap.push(level, ticket);
    this.live++;
  }

  /** Pops every entry whose level is crossed by `price`, appending the live seqs to `out`. */
  collect(price: bigint, out: number[]): void {
    const heap = this.heap;
    const falling = heap.descending;
    for (;;) {
      const level = heap.peekLevel();
      if (level === undefined || (falling ? price > level : price < level)) return;
      const ticket = heap.pop();
      if (ticket.live) out.push(ticket.seq);
    }
  }

  /** Bookkeeping for a ticket of this heap that died. */
  dropped(): void {
    this.live--;
    if (this.heap.size > 2 * this.live + COMPACT_SLACK) this.heap.filter(isLive);
  }
}

const isLive = (ticket: Ticket) => ticket.live;

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

/**
 * Where a position's margin call state changes next, as [level, falling]: an armed long fires
 * when the bid falls to its warning price; a called one re-arms only when the bid is back above
 * its re-arm price (`rearmPrice`), one more maintenance margin away from liquidation, so a quote
 * wavering around the warning price cannot fire a call on every other entry. A short the other way
 * round against the ask. Every position is in exactly one warning heap.
 */
export function warningLevel(position: Position): [bigint, boolean] {
  const long = position.side === "long";
  if (!position.marginCalled) return [position.warningPrice, long];
  const rearm = rearmPrice(position);
  return long ? [rearm + 1n, false] : [rearm - 1n, true];
}

/**
 * The price beyond which a called position re-arms: the liquidation rule at three times the
 * maintenance margin, as the warning price is at two and the liquidation price at one. The rule
 * is linear in the margin it keeps, so it is the warning price moved by its distance from the
 * liquidation price, exactly, in integers.
 */
export function rearmPrice(position: Position): bigint {
  return 2n * position.warningPrice - position.liquidationPrice;
}

export class TriggerIndex {
  /** Longs checked against the bid; shorts against the ask. Down heaps fire on price <= level. */
  readonly longDown = new TrackedHeap(true);
  readonly longUp = new TrackedHeap(false);
  readonly shortDown = new TrackedHeap(true);
  readonly shortUp = new TrackedHeap(false);
  /** Margin calls and their re-arming (`warningLevel`), apart: they close nothing. */
  readonly longWarnDown = new TrackedHeap(true);
  readonly longWarnUp = new TrackedHeap(false);
  readonly shortWarnDown = new TrackedHeap(true);
  readonly shortWarnUp = new TrackedHeap(false);

  add(position: Position): void {
    const down = downLevel(position);
    const up = upLevel(position);
    const long = position.side === "long";
    if (down !== undefined) (long ? this.longDown : this.shortDown).add(down, position.ticket);
    if (up !== undefined) (long ? this.longUp : this.shortUp).add(up, position.ticket);
    const [level, falling] = warningLevel(position);
    this.#warnHeap(long, falling).add(level, position.ticket);
  }

  /** Bookkeeping for a position that left the book (or was replaced), whichever way. */
  remove(position: Position): void {
    position.ticket.live = false;
    const long = position.side === "long";
    if (downLevel(position) !== undefined) (long ? this.longDown : this.shortDown).dropped();
    if (upLevel(position) !== undefined) (long ? this.longUp : this.shortUp).dropped();
    this.#warnHeap(long, warningLevel(position)[1]).dropped();
  }

  /** Seqs of the open positions the quote triggers, unsorted, possibly repeated. */
  collect(bid: bigint, ask: bigint, out: number[]): void {
    this.longDown.collect(bid, out);
    this.longUp.collect(bid, out);
    this.shortDown.collect(ask, out);
    this.shortUp.collect(ask, out);
  }

  /**
   * Seqs of the open positions whose margin call fires or re-arms at the quote, unsorted. Each
   * must then be replaced (its state flipped), as a collected close trigger must be closed.
   */
  collectWarnings(bid: bigint, ask: bigint, out: number[]): void {
    this.longWarnDown.collect(bid, out);
    this.longWarnUp.collect(bid, out);
    this.shortWarnDown.collect(ask, out);
    this.shortWarnUp.collect(ask, out);
  }

  #warnHeap(long: boolean, falling: boolean): TrackedHeap {
    if (long) return falling ? this.longWarnDown : this.longWarnUp;
    return falling ? this.shortWarnDown : this.shortWarnUp;
  }
}
