/**
 * Trade history: a consumer group on engine:output writes every close (manual, stop-loss,
 * take-profit, liquidation; partial or full) to Postgres, one row each. Upserts are idempotent
 * on the close's id (`closeId`) and entries are acknowledged only after the commit, so a crash
 * anywhere loses and doubles nothing.
 *
 * The writer reads as soon as the engine loop says it wrote a close (`notify`) but at most once
 * every `minGapMs`, so under load the closes of that gap go to Postgres in one insert; with no
 * notify it reads once every `idleMs`. It does not block on the stream: that would wake the
 * engine process for every output it writes, prices and opens included, and give each close a
 * read, an insert and an acknowledgement of its own (docs/performance.md has the figures).
 */
import { type Sql, type TradeRow, tradeRow } from "@trading/shared/db";
import type { Logger } from "@trading/shared/log";
import { OUTPUT_STREAM, type RedisClient, type StreamEntryReply } from "@trading/shared/redis";
import { ensureGroup, readStream } from "@trading/shared/stream_reader";
import { sleep } from "@trading/shared/wait";
import {
  decodeOutput,
  type EngineOutput,
  outputHeader,
  type Result,
} from "@trading/shared/schemas";

export const HISTORY_GROUP = "history";

type Closed = Extract<Result, { event: "closed" | "partially_closed" }>;

/** The results that are closes, each one history row. */
const CLOSE_EVENTS: ReadonlySet<string> = new Set(["closed", "partially_closed"]);

/** The closes an output records in the history (a replayed answer records none). */
export function closesOf(output: EngineOutput): Closed[] {
  if (output.kind === "event") {
    const { result } = output;
    return result.event === "closed" || result.event === "partially_closed" ? [result] : [];
  }
  // Answers are written to reply streams now; one in the output stream was written before.
  // The engine loop asks too, of every answer, to know when to wake the writer.
  if (output.kind !== "answer" || !output.ok || output.replayed) return [];
  const { result } = output;
  if (result.event === "closed" || result.event === "partially_closed") return [result];
  return result.event === "closed_all" ? result.closed : [];
}

/** The first close an output records, if any: whether the history writer has work. */
export function closeOf(output: EngineOutput): Closed | undefined {
  return closesOf(output)[0];
}

/** A decoded output's body says it is a close: only those are validated (`decodeOutput`). */
function closedResult(candidate: Readonly<Record<string, unknown>>): boolean {
  const result = candidate.result as { event?: unknown } | null | undefined;
  return typeof result === "object" && result !== null &&
    CLOSE_EVENTS.has(result.event as string);
}

/** The history rows an output batch carries. */
export function historyRows(entries: readonly StreamEntryReply[]): TradeRow[] {
  const rows: TradeRow[] = [];
  for (const [, flat] of entries) {
    // Prices, most of engine:output, and every result but a close are skipped by their flat
    // `kind` and `event` before any parsing (an entry written before `event` existed has its
    // body parsed instead); only a closed result is validated.
    const { kind, event } = outputHeader(flat);
    if (kind !== "event" && kind !== "answer") continue;
    if (event !== undefined && !CLOSE_EVENTS.has(event)) continue;
    const output = decodeOutput(flat, closedResult);
    if (output === undefined || output.kind === "price") continue;
    for (const closed of closesOf(output)) {
      rows.push(tradeRow(output.userId, output.cause, closed));
    }
  }
  return rows;
}

export interface HistoryWriterOptions {
  /** A dedicated connection (reads and acknowledgements). */
  reader: RedisClient;
  sql: Sql;
  log: Logger;
  consumer?: string;
  batchSize?: number;
  /** How long the writer waits for a `notify` before it reads anyway. */
  idleMs?: number;
  /** The least time between two reads after a `notify`: its closes make one insert. */
  minGapMs?: number;
}

export class HistoryWriter {
  #running = false;
  #done: Promise<void> | undefined;
  #notified = false;
  /** Ends the wait (stop). */
  #wake: (() => void) | undefined;
  /** Shortens the wait to what is left of `minGapMs` (notify). */
  #linger: (() => void) | undefined;
  #lastReadAtMs = Number.NEGATIVE_INFINITY;
  written = 0;

  constructor(readonly options: HistoryWriterOptions) {}

  async start(): Promise<void> {
    await ensureGroup(this.options.reader, OUTPUT_STREAM, HISTORY_GROUP);
    this.#running = true;
    this.#done = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#done;
  }

  /** Outputs that make history rows were written to engine:output: read them now. */
  notify(): void {
    this.#notified = true;
    this.#linger?.();
  }

  async #run(): Promise<void> {
    const { reader, log } = this.options;
    const idleMs = this.options.idleMs ?? 1000;
    const minGapMs = this.options.minGapMs ?? 200;
    while (this.#running) {
      // Each pass reads first what this consumer read but never acknowledged (a crash or a
      // failed insert mid-batch), then new entries.
      const batches = readStream({
        reader,
        stream: OUTPUT_STREAM,
        group: { name: HISTORY_GROUP, consumer: this.options.consumer ?? "history-writer" },
        count: this.options.batchSize ?? 500,
        // Not blocking: a notify, not a new entry, is what makes it read.
        running: () => this.#running,
        log,
        retryMessage: "history write failed; retrying",
        retryDelayMs: 500,
        beforeRead: (caughtUp) => this.#beforeRead(caughtUp, idleMs, minGapMs),
      });
      try {
        for await (const { entries } of batches) {
          if (entries.length === 0) continue;
          await this.#commit(entries);
          await reader.xack(OUTPUT_STREAM, HISTORY_GROUP, ...entries.map(([id]) => id));
        }
      } catch (error) {
        if (!this.#running) break;
        log.warn("history write failed; retrying", { error });
        await sleep(500);
      }
    }
  }

  /** Caught up, it waits for news (`#idle`); a full batch, or one still draining, reads at once. */
  async #beforeRead(caughtUp: boolean, idleMs: number, minGapMs: number): Promise<void> {
    if (caughtUp) await this.#idle(idleMs, minGapMs);
    this.#notified = false;
    this.#lastReadAtMs = performance.now();
  }

  /**
   * Until a `notify` (one that came during the last batch counts) and `minGapMs` since the last
   * read, or `idleMs`.
   */
  #idle(idleMs: number, minGapMs: number): Promise<void> {
    const gapLeftMs = () => Math.max(0, this.#lastReadAtMs + minGapMs - performance.now());
    if (!this.#running || (this.#notified && gapLeftMs() === 0)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.#wake = this.#linger = undefined;
        resolve();
      };
      let timer = setTimeout(finish, this.#notified ? gapLeftMs() : idleMs);
      this.#wake = finish;
      if (this.#notified) return;
      this.#linger = () => {
        this.#linger = undefined;
        clearTimeout(timer);
        const leftMs = gapLeftMs();
        if (leftMs === 0) finish();
        else timer = setTimeout(finish, leftMs);
      };
    });
  }

  async #commit(entries: readonly StreamEntryReply[]): Promise<void> {
    const rows = historyRows(entries);
    if (rows.length === 0) return;
    const { sql } = this.options;
    await sql`INSERT INTO trades ${sql(rows)} ON CONFLICT (close_id) DO NOTHING`;
    this.written += rows.length;
  }
}
