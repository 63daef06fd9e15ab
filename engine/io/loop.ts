/**
 * The engine's live loop: blocking XREAD on a dedicated connection, apply the batch, write
 * all its outputs in one MULTI/EXEC. A failed write is retried with the same outputs (the
 * state already moved), never re-applied, so nothing is lost or doubled.
 */
import type { Logger } from "@trading/shared/log";
import {
  INPUT_STREAM,
  type RedisClient,
  type StreamEntryBytes,
  WRITTEN_KEY,
} from "@trading/shared/redis";
import { readStream } from "@trading/shared/stream_reader";
import { backoffMs, sleep } from "@trading/shared/wait";
import { compareStreamIds } from "../core/stream_id.ts";
import type { EngineOutput } from "@trading/shared/schemas";
import type { EngineState } from "../core/state.ts";
import { applyBatch, idText } from "./batch.ts";
import { planWrites } from "./routing.ts";

export interface LoopOptions {
  /** Commands and writes. */
  redis: RedisClient;
  /** Blocking reads only. */
  reader: RedisClient;
  state: EngineState;
  log: Logger;
  batchSize?: number;
  blockMs?: number;
  /** Outputs caused at or before this ID were written before a restart. */
  suppressThroughId?: string;
  /** How long a reply stream lives after its last answer (its API process may be gone). */
  replyTtlMs?: number;
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
      replyTtlMs: 300_000,
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

  /** Answers without a reply address (nobody waits for them), since start. */
  unaddressedAnswers = 0;

  async #write(outputs: readonly EngineOutput[]): Promise<void> {
    if (outputs.length === 0) return;
    const { redis, log, replyTtlMs } = this.#options;
    const plan = planWrites(outputs);
    this.unaddressedAnswers += plan.unaddressed;
    for (let attempt = 0;; attempt++) {
      try {
        // After a failure the EXEC may have run with its reply lost: look before writing again.
        if (attempt > 0 && await alreadyWritten(redis, outputs.at(-1)!.cause)) return;
        const multi = redis.multi();
        for (const { stream, maxLen, fields } of plan.adds) {
          if (maxLen === undefined) multi.xadd(stream, "*", ...fields);
          else multi.xadd(stream, "MAXLEN", "~", maxLen, "*", ...fields);
        }
        // A process that went away leaves its reply stream to expire, never to grow.
        for (const stream of plan.replyStreams) multi.pexpire(stream, replyTtlMs);
        if (plan.written !== undefined) multi.set(plan.written.key, plan.written.cause);
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

/** Whether a batch with this cause (or a later one) has been written. */
export async function alreadyWritten(redis: RedisClient, cause: string): Promise<boolean> {
  const last = await lastOutputCause(redis);
  return last !== "0-0" && compareStreamIds(last, cause) >= 0;
}

/** The cause of the newest batch written, or "0-0": `WRITTEN_KEY`, set in each batch's EXEC. */
export async function lastOutputCause(redis: RedisClient): Promise<string> {
  return await redis.get(WRITTEN_KEY) ?? "0-0";
}
