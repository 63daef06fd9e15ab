/**
 * The candle writer (docs/design.md §8): a consumer group on `{e0}:quotes`, in the engine
 * process beside the history writer and, like it, off the engine's hot path (the engine never
 * reads `{e0}:quotes`). Each batch: fold the entries per (asset, minute) in stream order, upsert
 * the exchange candles of the poller's backfill that come before the minute's first bid, then the
 * bids, roll the larger intervals up from them, publish the touched candles on `{e0}:candles`,
 * and only then acknowledge. The rows are a function of the stream's order only, never of where
 * batches begin and end.
 *
 * Exactly once across crashes: a row keeps the last entry it applied and takes a batch only if
 * the batch's entries for it are newer, and rollups are recomputed, not added to; so a batch
 * read again (the group hands back what was never acknowledged) leaves every row as it was.
 * One writer at a time: it writes only while it holds a session-level Postgres advisory lock,
 * on a connection of its own, so an engine that lost its lease cannot interleave its batches
 * with its successor's (which waits for the lock, held until the old process exits).
 *
 * It blocks on the stream; caught up, it reads at most once every `minGapMs` (250: at most 4
 * wake-ups a second), so the quotes of that gap make one batch and one round of statements.
 * Behind (a full batch came back), it reads again at once.
 */
import {
  type Candle,
  candleView,
  intervalStart,
  type LiveCandle,
  parseCandleValue,
} from "@trading/shared/candles";
import { isAsset } from "@trading/shared/assets";
import type { Sql } from "@trading/shared/db";
import type { Logger } from "@trading/shared/log";
import {
  CANDLES_MAXLEN,
  CANDLES_STREAM,
  QUOTES_STREAM,
  type RedisClient,
  type StreamEntryReply,
} from "@trading/shared/redis";
import { ensureGroup, readStream } from "@trading/shared/stream_reader";
import { parsePriceValue } from "@trading/shared/schemas";
import { sleep } from "@trading/shared/wait";
import { parseStreamId } from "../core/stream_id.ts";
import {
  type KlineRow,
  type MinuteDelta,
  minuteRows,
  rollUp,
  trimCandles,
  upsertBidMinutes,
  upsertKlineMinutes,
} from "./candle_store.ts";
import { WriterLock } from "./writer_lock.ts";

export const CANDLE_GROUP = "candles";
/** Candles published per asset and interval per batch: the newest two (a minute's end, the next). */
const PUBLISHED_PER_SERIES = 2;

/** What a batch of `{e0}:quotes` amounts to. */
export interface FoldedBatch {
  /** Bid quotes per (asset, minute), in stream order. */
  deltas: MinuteDelta[];
  /**
   * Exchange candles, per (asset, minute) the last one before the batch's first bid of that
   * minute: applied before the bids, as in stream order. One after a bid of its minute is
   * dropped (a bid row never takes an exchange candle), as it would be in a later batch.
   */
  klines: KlineRow[];
  /** Entries that were neither (malformed, unknown asset): skipped. */
  skipped: number;
}

/** Folds a batch's entries; the minute of a quote is its entry ID's time. Pure. */
export function foldQuotes(entries: readonly StreamEntryReply[]): FoldedBatch {
  const deltas = new Map<string, MinuteDelta>();
  const klines = new Map<string, KlineRow>();
  let skipped = 0;
  for (const [id, flat] of entries) {
    if (flat.length !== 2) {
      skipped++;
      continue;
    }
    if (flat[0] === "price") {
      const quote = parsePriceValue(flat[1]!);
      if (typeof quote === "string" || !isAsset(quote.asset)) {
        skipped++;
        continue;
      }
      const t = intervalStart(parseStreamId(id).ms, "1m");
      const key = `${quote.asset} ${t}`;
      const bid = quote.bid;
      const delta = deltas.get(key);
      if (delta === undefined) {
        deltas.set(key, {
          asset: quote.asset,
          t,
          o: bid,
          h: bid,
          l: bid,
          c: bid,
          n: 1,
          lastId: id,
        });
      } else {
        if (bid > delta.h) delta.h = bid;
        if (bid < delta.l) delta.l = bid;
        delta.c = bid;
        delta.n++;
        delta.lastId = id;
      }
    } else if (flat[0] === "candle") {
      const candle = parseCandleValue(flat[1]!);
      if (typeof candle === "string") {
        skipped++;
        continue;
      }
      const key = `${candle.asset} ${candle.t}`;
      if (!deltas.has(key)) klines.set(key, { ...candle, id });
    } else {
      skipped++;
    }
  }
  return { deltas: [...deltas.values()], klines: [...klines.values()], skipped };
}

/** Per asset and interval, the newest changed candles, as gateways push them. */
export function liveCandles(changed: readonly Candle[]): LiveCandle[] {
  const series = new Map<string, Candle[]>();
  for (const candle of changed) {
    const key = `${candle.asset} ${candle.interval}`;
    const list = series.get(key) ?? [];
    const same = list.findIndex((c) => c.t === candle.t);
    if (same >= 0) list[same] = candle; // the later statement's row is the newer
    else list.push(candle);
    series.set(key, list);
  }
  const live: LiveCandle[] = [];
  for (const list of series.values()) {
    list.sort((a, b) => a.t - b.t);
    for (const candle of list.slice(-PUBLISHED_PER_SERIES)) {
      live.push({
        asset: candle.asset as LiveCandle["asset"],
        interval: candle.interval,
        ...candleView(candle, candle.asset),
      });
    }
  }
  return live;
}

export interface CandleWriterOptions {
  /** A dedicated connection: its reads block. */
  reader: RedisClient;
  /**
   * A client of one connection of the writer's own (`connectPostgres(url, { max: 1 })`): its
   * session holds the one-writer lock and runs the writer's statements (writer_lock.ts).
   */
  sql: Sql;
  log: Logger;
  /** Days of 1-minute candles kept (CANDLE_RETENTION_DAYS). */
  retentionDays: number;
  stream?: string;
  group?: string;
  consumer?: string;
  batchSize?: number;
  /** The least time between two reads. */
  minGapMs?: number;
  /** How often old candles are deleted. */
  trimEveryMs?: number;
  /** How often a writer waiting for the lock asks for it again. */
  lockPollMs?: number;
  /** Tests only: awaited before a batch is written. */
  beforeCommit?: (entries: readonly StreamEntryReply[]) => Promise<void>;
  /** Tests only: awaited after a batch's 1-minute upsert, before its rollups. */
  afterUpsert?: () => Promise<void>;
}

export class CandleWriter {
  #running = false;
  #done: Promise<void> | undefined;
  #lastReadAtMs = Number.NEGATIVE_INFINITY;
  #lastTrimAtMs = Number.NEGATIVE_INFINITY;
  /** Entries applied (read, written and acknowledged), malformed ones included. */
  entries = 0;
  skipped = 0;

  constructor(readonly options: CandleWriterOptions) {}

  get stream(): string {
    return this.options.stream ?? QUOTES_STREAM;
  }

  get group(): string {
    return this.options.group ?? CANDLE_GROUP;
  }

  async start(): Promise<void> {
    await ensureGroup(this.options.reader, this.stream, this.group);
    this.#running = true;
    this.#done = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }

  async #run(): Promise<void> {
    const { log } = this.options;
    const minGapMs = this.options.minGapMs ?? 250;
    while (this.#running) {
      // Nothing is read before the lock is held: what another writer read and never
      // acknowledged is read again by this one (the same consumer) once the lock is its.
      const lock = new WriterLock(this.options.sql, `${this.stream} ${this.group}`);
      try {
        if (!await lock.acquire(() => this.#running, this.options.lockPollMs ?? 250)) break;
        await this.#follow(lock, minGapMs);
      } catch (error) {
        if (!this.#running) break;
        log.warn("candle write failed; retrying", { error });
        await sleep(500);
      } finally {
        await lock.release();
      }
    }
  }

  /** Reads, writes and acknowledges batches while the lock is held; throws when it is not. */
  async #follow(lock: WriterLock, minGapMs: number): Promise<void> {
    const { reader, log } = this.options;
    const batches = readStream({
      reader,
      stream: this.stream,
      // A fixed consumer: what it was handed and never acknowledged is handed back to it.
      group: { name: this.group, consumer: this.options.consumer ?? "candle-writer" },
      count: this.options.batchSize ?? 1000,
      blockMs: 1000,
      running: () => this.#running,
      log,
      retryMessage: "candle read failed; retrying",
      retryDelayMs: 500,
      // Caught up: at most one read every minGapMs. Behind (a full batch, or unacknowledged
      // entries still coming back): at once.
      beforeRead: async (caughtUp) => {
        const waitMs = this.#lastReadAtMs + minGapMs - performance.now();
        if (caughtUp && waitMs > 0) await sleep(waitMs);
        this.#lastReadAtMs = performance.now();
      },
    });
    for await (const { entries } of batches) {
      await this.#maybeTrim();
      if (entries.length === 0) continue;
      await this.options.beforeCommit?.(entries);
      await lock.check();
      await this.#commit(lock.sql, entries);
      await reader.xack(this.stream, this.group, ...entries.map(([id]) => id));
      this.entries += entries.length;
    }
  }

  async #commit(sql: Sql, entries: readonly StreamEntryReply[]): Promise<void> {
    const batch = foldQuotes(entries);
    if (batch.skipped > 0 && this.skipped === 0) {
      this.options.log.warn("skipped malformed quote entries", { skipped: batch.skipped });
    }
    this.skipped += batch.skipped;
    // In stream order per minute: the exchange candles that came before the minute's first bid
    // (foldQuotes dropped the later ones), then the bids, which merge into them.
    await upsertKlineMinutes(sql, batch.klines);
    await upsertBidMinutes(sql, batch.deltas);
    await this.options.afterUpsert?.();
    const touched = [...batch.klines, ...batch.deltas];
    // The current rows of the touched minutes, changed now or by this batch before a crash.
    const changed = await minuteRows(sql, touched);
    changed.push(...await rollUp(sql, touched));
    const live = liveCandles(changed);
    if (live.length > 0) {
      await this.options.reader.xadd(
        CANDLES_STREAM,
        "MAXLEN",
        "~",
        CANDLES_MAXLEN,
        "*",
        "candles",
        JSON.stringify(live),
      );
    }
  }

  async #maybeTrim(): Promise<void> {
    const everyMs = this.options.trimEveryMs ?? 600_000;
    const nowMs = performance.now();
    if (nowMs - this.#lastTrimAtMs < everyMs) return;
    this.#lastTrimAtMs = nowMs;
    const deleted = await trimCandles(this.options.sql, Date.now(), this.options.retentionDays);
    if (deleted > 0) this.options.log.debug("old candles deleted", { deleted });
  }
}
