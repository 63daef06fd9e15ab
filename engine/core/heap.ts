/**
 * What a trigger index holds for one order: its seq, and whether the entry still stands. An
 * order that ends, or whose levels change (a modify, a partial close), kills its ticket and
 * gets a new one: its old heap entries are then skipped when they surface, never searched for.
 */
export interface Ticket {
  readonly seq: number;
  live: boolean;
}

/**
 * A binary heap of (level, ticket) pairs in parallel arrays. `descending` makes the highest
 * level the top. Ties break by the lower seq so the order never depends on insertion history
 * (an order's dead and live tickets may tie; only the live one is ever used). The seqs are
 * kept as numbers beside the tickets: ties are common (positions opened at one price share a
 * liquidation level), and comparing through the ticket objects cost a load per comparison.
 */
export class LevelHeap {
  #levels: bigint[] = [];
  #seqs: number[] = [];
  #tickets: Ticket[] = [];

  constructor(readonly descending: boolean) {}

  get size(): number {
    return this.#levels.length;
  }

  /** The top level, or undefined when empty. */
  peekLevel(): bigint | undefined {
    return this.#levels[0];
  }

  push(level: bigint, ticket: Ticket): void {
    this.#levels.push(level);
    this.#seqs.push(ticket.seq);
    this.#tickets.push(ticket);
    this.#siftUp(this.#levels.length - 1);
  }

  /** Removes the top and returns its ticket; the heap must not be empty. */
  pop(): Ticket {
    const levels = this.#levels;
    const seqs = this.#seqs;
    const tickets = this.#tickets;
    const top = tickets[0]!;
    const lastLevel = levels.pop()!;
    const lastSeq = seqs.pop()!;
    const lastTicket = tickets.pop()!;
    if (levels.length > 0) {
      levels[0] = lastLevel;
      seqs[0] = lastSeq;
      tickets[0] = lastTicket;
      this.#siftDown(0);
    }
    return top;
  }

  /** Keeps only the entries whose seq passes `keep`, in O(n). */
  filter(keep: (ticket: Ticket) => boolean): void {
    const levels: bigint[] = [];
    const seqs: number[] = [];
    const tickets: Ticket[] = [];
    for (let i = 0; i < this.#tickets.length; i++) {
      if (keep(this.#tickets[i]!)) {
        levels.push(this.#levels[i]!);
        seqs.push(this.#seqs[i]!);
        tickets.push(this.#tickets[i]!);
      }
    }
    this.#levels = levels;
    this.#seqs = seqs;
    this.#tickets = tickets;
    for (let i = (levels.length >> 1) - 1; i >= 0; i--) this.#siftDown(i);
  }

  #before(i: number, j: number): boolean {
    const a = this.#levels[i]!;
    const b = this.#levels[j]!;
    if (a !== b) return this.descending ? a > b : a < b;
    return this.#seqs[i]! < this.#seqs[j]!;
  }

  #swap(i: number, j: number): void {
    const levels = this.#levels;
    const seqs = this.#seqs;
    const level = levels[i]!;
    levels[i] = levels[j]!;
    levels[j] = level;
    const seq = seqs[i]!;
    seqs[i] = seqs[j]!;
    seqs[j] = seq;
    const tickets = this.#tickets;
    const ticket = tickets[i]!;
    tickets[i] = tickets[j]!;
    tickets[j] = ticket;
  }

  #siftUp(index: number): void {
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#before(i, parent)) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #siftDown(index: number): void {
    const n = this.#levels.length;
    let i = index;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) return;
      const right = left + 1;
      const child = right < n && this.#before(right, left) ? right : left;
      if (!this.#before(child, i)) return;
      this.#swap(i, child);
      i = child;
    }
  }
}
