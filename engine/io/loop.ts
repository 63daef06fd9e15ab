/**
 * The engine's live loop: blocking XREAD on a dedicated connection, apply the batch, write
 * all its outputs in one MULTI/EXEC. A failed write is retried with the same outputs (the
 * state already moved), never re-applied, so nothing is lost or doubled.
 */
import type { Redis } from "ioredis";
import type { Logger } from "@trading/shared/log";
import {
  INPUT_STREAM,
  OUTPUT_STREAM,
  type StreamEntryBytes,
  type StreamEntryReply,
} from "@trading/shared/redis";
import { readStream } from "@trading/shared/stream_reader";
import { backoffMs, sleep } from "@trading/shared/wait";
import { compareStreamIds } from "../core/stream_id.ts";
import { encodeOutput, type EngineOutput } from "@trading/shared/schemas";
import type { EngineState } from "../core/state.ts";
import { applyBatch, idText } from "./batch.ts";

export interface LoopOptions {
  /** Commands and writes. */
  redis: Redis;
  /** Blocking reads only. */
  reader: Redis;
  state: EngineState;
  log: Logger;
  batchSize?: number;
  blockMs?: number;
  /** Outputs caused at or before this ID were written before a restart. */
  suppressThroughId?: string;
  /** Called after each batch is applied and its outputs written (and on idle reads). */
  onBatch?: (entries: number, outputs: readonly EngineOutput[]) => void | Promise<void>;
}

export class EngineLoop {
  #running = false;
  #done: Promise<void> | undefined;
  readonly #options: Required<Omit<LoopOptions, "onBatch">> & Pick<LoopOptions, "onBatch">;
  appliedEntries = 0;

  constructor(options: LoopOptions) {
    this.#options = {
      batchSize: 1000,
      blockMs: 1000,
      suppressThroughId: "0-0",
      ...options,
    };
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#done = this.#run();
  }

  /** Stops after the batch in hand is written. */
  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }

  async #run(): Promise<void> {
    const { reader, state, log, batchSize, blockMs } = this.#options;
    // As bytes: quotes are scanned without ever becoming strings (see decodeFlatBytes).
    const batches = readStream({
      reader,
      stream: INPUT_STREAM,
      // The reader then moves on batch by batch, as the state does when it applies them.
      after: state.lastId,
      count: batchSize,
      blockMs,
      bytes: true,
      running: () => this.#running,
      log,
      retryMessage: "input read failed; retrying",
    });
    for await (const { entries } of batches) {
      if (entries.length > 0) await this.#applyAndWrite(entries);
      else await this.#options.onBatch?.(0, []);
    }
  }

  async #applyAndWrite(entries: readonly StreamEntryBytes[]): Promise<void> {
    const { state, log } = this.#options;
    const { outputs } = applyBatch(state, entries, this.#options.suppressThroughId, log);
    this.appliedEntries += entries.length;
    await this.#write(outputs);
    await this.#options.onBatch?.(entries.length, outputs);
  }

  /**
   * Replays what the stream holds after the state's last entry, in large XRANGE batches, with
   * progress in the log; outputs already written before a crash are suppressed, the rest are
   * written. Returns the number of entries replayed.
   */
  async catchUp(batchSize = 10_000): Promise<number> {
    const { reader, state, log } = this.#options;
    const started = performance.now();
    let replayed = 0;
    let nextLog = 100_000;
    const read = (afterId: string) =>
      // On the reader (idle until the live loop starts): a write's reply never waits behind
      // a 10,000-entry read on the command connection.
      reader.xrangeBuffer(INPUT_STREAM, `(${afterId}`, "+", "COUNT", batchSize) as Promise<
        StreamEntryBytes[]
      >;
    let pending = read(state.lastId);
    for (;;) {
      const entries = await pending;
      if (entries.length === 0) break;
      // Ask for the next batch before applying this one: Redis works while we do.
      pending = read(idText(entries[entries.length - 1]![0]));
      await this.#applyAndWrite(entries);
      replayed += entries.length;
      if (replayed >= nextLog) {
        nextLog += 100_000;
        const rate = Math.round(replayed / ((performance.now() - started) / 1000));
        log.info("replaying", { replayed, lastId: state.lastId, entriesPerSec: rate });
      }
    }
    const seconds = (performance.now() - started) / 1000;
    log.info("caught up", {
      replayed,
      seconds: Math.round(seconds * 1000) / 1000,
      entriesPerSec: replayed === 0 ? 0 : Math.round(replayed / seconds),
      lastId: state.lastId,
    });
    return replayed;
  }

  async #write(outputs: readonly EngineOutput[]): Promise<void> {
    if (outputs.length === 0) return;
    const { redis, log } = this.#options;
    for (let attempt = 0;; attempt++) {
      try {
        // After a failure the EXEC may have run with its reply lost: look before writing again.
        if (attempt > 0 && await alreadyWritten(redis, outputs.at(-1)!.cause)) return;
        const multi = redis.multi();
        for (const output of outputs) {
          multi.xadd(OUTPUT_STREAM, "*", ...encodeOutput(output));
        }
        const results = await multi.exec();
        const failed = results?.find(([error]) => error !== null);
        if (results === null || failed) throw failed?.[0] ?? new Error("MULTI aborted");
        return;
      } catch (error) {
        // The state already includes this batch: keep the outputs until they are written.
        if (attempt % 10 === 0) log.error("output write failed; retrying", { error, attempt });
        await sleep(backoffMs(attempt, { baseMs: 50, maxMs: 1000 }));
      }
    }
  }
}

/** Whether engine:output already ends at (or past) this cause. */
export async function alreadyWritten(redis: Redis, cause: string): Promise<boolean> {
  const last = await lastOutputCause(redis);
  return last !== "0-0" && compareStreamIds(last, cause) >= 0;
}

/** The cause of the newest entry of engine:output, or "0-0". */
export async function lastOutputCause(redis: Redis): Promise<string> {
  const newest = await redis.xrevrange(OUTPUT_STREAM, "+", "-", "COUNT", 1) as StreamEntryReply[];
  const fields = newest[0]?.[1] ?? [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === "cause") return fields[i + 1]!;
  }
  return "0-0";
}
