/**
 * Closes from Postgres, newest first, one row per close (a position closed in parts has several,
 * sharing its orderId), with an opaque keyset cursor on (closed_at, close_id): the close's id is
 * unique where (closed_at, order_id) is not. Index `trades_user_closed_close` (shared/db.ts)
 * serves it.
 */
import {
  type ClosedTrade,
  closedTradeOf,
  type Sql,
  type StoredTradeRow,
  TRADE_COLUMNS,
  TRADE_FIELDS,
} from "@trading/shared/db";

export interface HistoryPage {
  trades: ClosedTrade[];
  nextCursor: string | null;
}

export interface HistoryStore {
  list(
    userId: string,
    limit: number,
    cursor: string | undefined,
  ): Promise<HistoryPage | "bad_cursor">;
}

/** `<closedAt>:<closeId>`; a close's id is `<entry id>-<orderId>` (output.ts `closeViewSchema`). */
const CURSOR_RE = /^(\d{1,15}):([0-9A-Za-z_-]{1,80})$/;

function encodeCursor(closedAt: number, closeId: string): string {
  return btoa(`${closedAt}:${closeId}`).replaceAll("=", "");
}

function decodeCursor(cursor: string): [number, string] | undefined {
  try {
    const match = CURSOR_RE.exec(atob(cursor));
    return match ? [Number(match[1]), match[2]!] : undefined;
  } catch {
    return undefined;
  }
}

/** The columns of a closed trade's fields (bigint ones come back as text: see StoredTradeRow). */
const COLUMNS = TRADE_FIELDS.map((field) => TRADE_COLUMNS[field]);

export function postgresHistory(sql: Sql): HistoryStore {
  return {
    async list(userId, limit, cursor) {
      let after: [number, string] | undefined;
      if (cursor !== undefined) {
        after = decodeCursor(cursor);
        if (after === undefined) return "bad_cursor";
      }
      const rows = await sql<StoredTradeRow[]>`
        SELECT ${sql(COLUMNS)}
        FROM trades
        WHERE user_id = ${userId}
          ${after ? sql`AND (closed_at, close_id) < (${after[0]}, ${after[1]})` : sql``}
        ORDER BY closed_at DESC, close_id DESC
        LIMIT ${limit + 1}`;
      const page = rows.slice(0, limit).map(closedTradeOf);
      const last = page.at(-1);
      return {
        trades: page,
        nextCursor: rows.length > limit && last ? encodeCursor(last.closedAt, last.closeId) : null,
      };
    },
  };
}
