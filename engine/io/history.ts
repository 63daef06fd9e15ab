/**
 * Trade history: a consumer group on engine:output writes every close (manual, stop-loss,
 * take-profit, liquidation) to Postgres. Upserts are idempotent on the order (ID and opening
 * time) and entries are
 * acknowledged only after the commit, so a crash anywhere loses and doubles nothing.
 */
import type { Redis } from "ioredis";
import type { Sql } from "@trading/shared/db";
import type { Logger } from "@trading/shared/log";
import {
  OUTPUT_STREAM,
  type StreamEntryReply,
  watchedRead,
  type XReadReply,
} from "@trading/shared/redis";
import { decodeOutput, outputHeader, type Result } from "@trading/shared/schemas";

export const HISTORY_GROUP = "history";

type Closed = Extract<Result, { event: "closed" }>;

export interface HistoryRow {
  order_id: string;
  user_id: string;
  asset: string;
  side: string;
  margin_cents: string;
  leverage: number;
  open_price: string;
  close_price: string;
  quantity: string;
  pnl_cents: string;
  reason: string;
  opened_at: number;
  closed_at: number;
  cause: string;
}

const CLOSED = '"event":"closed"';

function fieldOf(flat: readonly string[], name: string): string {
  for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i] === name) return flat[i + 1]!;
  return "";
}

/** The history rows an output batch carries. */
export function historyRows(entries: readonly StreamEntryReply[]): HistoryRow[] {
  const rows: HistoryRow[] = [];
  for (const [, flat] of entries) {
    // Most outputs are prices and answers that close nothing: skip them before any parsing.
    // Our own encoder writes a close's body with `"event":"closed"` in it.
    const kind = outputHeader(flat).kind;
    if (kind !== "event" && (kind !== "answer" || !fieldOf(flat, "body").includes(CLOSED))) {
      continue;
    }
    const output = decodeOutput(flat);
    if (output === undefined || output.kind === "price") continue;
    let closed: Closed | undefined;
    if (output.kind === "event") closed = output.result;
    else if (
      output.kind === "answer" && output.ok && output.result.event === "closed" && !output.replayed
    ) {
      closed = output.result;
    }
    if (closed === undefined) continue;
    rows.push({
      order_id: closed.orderId,
      user_id: output.userId,
      asset: closed.asset,
      side: closed.type,
      margin_cents: closed.margin,
      leverage: closed.leverage,
      open_price: closed.openPrice,
      close_price: closed.closePrice,
      quantity: closed.quantity,
      pnl_cents: closed.pnl,
      reason: closed.reason,
      opened_at: closed.openedAt,
      closed_at: closed.closedAt,
      cause: output.cause,
    });
  }
  return rows;
}

export interface HistoryWriterOptions {
  /** A dedicated connection: the group read blocks. */
  reader: Redis;
  sql: Sql;
  log: Logger;
  consumer?: string;
  batchSize?: number;
  blockMs?: number;
}

export class HistoryWriter {
  #running = false;
  #done: Promise<void> | undefined;
  written = 0;

  constructor(readonly options: HistoryWriterOptions) {}

  async start(): Promise<void> {
    try {
      await this.options.reader.xgroup("CREATE", OUTPUT_STREAM, HISTORY_GROUP, "0", "MKSTREAM");
    } catch (error) {
      if (!String(error).includes("BUSYGROUP")) throw error;
    }
    this.#running = true;
    this.#done = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }

  async #run(): Promise<void> {
    const { reader, log } = this.options;
    const consumer = this.options.consumer ?? "history-writer";
    // First what this consumer read but never acknowledged (a crash mid-batch), then new.
    let cursor = "0";
    while (this.#running) {
      try {
        const reply = await watchedRead(reader, () =>
          reader.xreadgroup(
            "GROUP",
            HISTORY_GROUP,
            consumer,
            "COUNT",
            this.options.batchSize ?? 500,
            "BLOCK",
            this.options.blockMs ?? 1000,
            "STREAMS",
            OUTPUT_STREAM,
            cursor,
          ), this.options.blockMs ?? 1000) as XReadReply;
        const entries = reply?.[0]?.[1] ?? [];
        if (cursor === "0" && entries.length === 0) cursor = ">";
        if (entries.length === 0) continue;
        await this.#commit(entries);
        await reader.xack(OUTPUT_STREAM, HISTORY_GROUP, ...entries.map(([id]) => id));
      } catch (error) {
        if (!this.#running) break;
        log.warn("history write failed; retrying", { error });
        cursor = "0";
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  async #commit(entries: readonly StreamEntryReply[]): Promise<void> {
    const rows = historyRows(entries);
    if (rows.length === 0) return;
    const { sql } = this.options;
    await sql`INSERT INTO trades ${sql(rows)} ON CONFLICT (order_id, opened_at) DO NOTHING`;
    this.written += rows.length;
  }
}
