/** Closed trades from Postgres, newest first, with an opaque keyset cursor. */
import type { Sql } from "@trading/shared/db";

export interface HistoryTrade {
  orderId: string;
  asset: string;
  type: "long" | "short";
  margin: string;
  leverage: number;
  openPrice: string;
  closePrice: string;
  quantity: string;
  pnl: string;
  reason: "manual" | "stop_loss" | "take_profit" | "liquidation";
  openedAt: number;
  closedAt: number;
}

export interface HistoryPage {
  trades: HistoryTrade[];
  nextCursor: string | null;
}

export interface HistoryStore {
  list(
    userId: string,
    limit: number,
    cursor: string | undefined,
  ): Promise<HistoryPage | "bad_cursor">;
}

function encodeCursor(closedAt: number, orderId: string): string {
  return btoa(`${closedAt}:${orderId}`).replaceAll("=", "");
}

function decodeCursor(cursor: string): [number, string] | undefined {
  try {
    const match = /^(\d{1,15}):(\d{1,16})$/.exec(atob(cursor));
    return match ? [Number(match[1]), match[2]!] : undefined;
  } catch {
    return undefined;
  }
}

interface Row {
  order_id: string;
  asset: string;
  side: "long" | "short";
  margin_cents: string;
  leverage: number;
  open_price: string;
  close_price: string;
  quantity: string;
  pnl_cents: string;
  reason: HistoryTrade["reason"];
  opened_at: string;
  closed_at: string;
}

export function postgresHistory(sql: Sql): HistoryStore {
  return {
    async list(userId, limit, cursor) {
      let after: [number, string] | undefined;
      if (cursor !== undefined) {
        after = decodeCursor(cursor);
        if (after === undefined) return "bad_cursor";
      }
      const rows = await sql<Row[]>`
        SELECT order_id::text, asset, side, margin_cents::text, leverage, open_price, close_price,
               quantity, pnl_cents::text, reason, opened_at::text, closed_at::text
        FROM trades
        WHERE user_id = ${userId}
          ${after ? sql`AND (closed_at, order_id) < (${after[0]}, ${after[1]}::bigint)` : sql``}
        ORDER BY closed_at DESC, order_id DESC
        LIMIT ${limit + 1}`;
      const page = rows.slice(0, limit).map((row) => ({
        orderId: row.order_id,
        asset: row.asset,
        type: row.side,
        margin: row.margin_cents,
        leverage: row.leverage,
        openPrice: row.open_price,
        closePrice: row.close_price,
        quantity: row.quantity,
        pnl: row.pnl_cents,
        reason: row.reason,
        openedAt: Number(row.opened_at),
        closedAt: Number(row.closed_at),
      }));
      const last = page.at(-1);
      return {
        trades: page,
        nextCursor: rows.length > limit && last ? encodeCursor(last.closedAt, last.orderId) : null,
      };
    },
  };
}
