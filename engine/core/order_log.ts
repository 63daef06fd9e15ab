/**
 * Who owned each recent order, by sequence number, so a second close of one's own order
 * answers `order_closed` and anybody else's answers `order_not_found`. Orders are numbered
 * densely, so two arrays indexed by seq do what a Map would, without a hash insert per order.
 * Entries older than the retention (by open time, in stream time) are dropped from the front.
 */
const COMPACT_MIN = 4096;

export class OrderLog {
  /** Seq of owners[0]. */
  #baseSeq: number;
  /** Index of the oldest retained entry. */
  #head = 0;
  #owners: string[] = [];
  #openedAtMs: number[] = [];

  constructor(firstSeq = 1) {
    this.#baseSeq = firstSeq;
  }

  /** Records a new order; seqs must arrive in order with no gap. */
  record(seq: number, userId: string, openedAtMs: number): void {
    if (seq !== this.#baseSeq + this.#owners.length) {
      throw new RangeError(`order ${seq} recorded out of sequence`);
    }
    this.#owners.push(userId);
    this.#openedAtMs.push(openedAtMs);
  }

  /** The owner of a retained order, or undefined. */
  ownerOf(seq: number): string | undefined {
    const index = seq - this.#baseSeq;
    return index >= this.#head ? this.#owners[index] : undefined;
  }

  /** Forgets orders opened at or before `cutoffMs`, oldest first. */
  prune(cutoffMs: number): void {
    const opened = this.#openedAtMs;
    let head = this.#head;
    while (head < opened.length && opened[head]! <= cutoffMs) head++;
    this.#head = head;
    if (head >= COMPACT_MIN && head * 2 >= opened.length) {
      this.#owners = this.#owners.slice(head);
      this.#openedAtMs = opened.slice(head);
      this.#baseSeq += head;
      this.#head = 0;
    }
  }

  /** The seq the next recorded order must have. */
  get nextSeq(): number {
    return this.#baseSeq + this.#owners.length;
  }

  /** Canonical form: the first retained seq, then [userId, openedAtMs] per order. */
  toRows(): [number, Array<[string, number]>] {
    const rows: Array<[string, number]> = new Array(this.#owners.length - this.#head);
    for (let i = this.#head; i < this.#owners.length; i++) {
      rows[i - this.#head] = [this.#owners[i]!, this.#openedAtMs[i]!];
    }
    return [this.#baseSeq + this.#head, rows];
  }

  /** A copy of the retained entries (two array copies, no per-entry objects). */
  capture(): { firstSeq: number; owners: string[]; openedAtMs: number[] } {
    return {
      firstSeq: this.#baseSeq + this.#head,
      owners: this.#owners.slice(this.#head),
      openedAtMs: this.#openedAtMs.slice(this.#head),
    };
  }

  static fromRows(firstSeq: number, rows: ReadonlyArray<readonly [string, number]>): OrderLog {
    const log = new OrderLog(firstSeq);
    for (const [userId, openedAtMs] of rows) {
      log.#owners.push(userId), log.#openedAtMs.push(openedAtMs);
    }
    return log;
  }
}
