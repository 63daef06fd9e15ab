/** Closed trades from Postgres, newest first, with an opaque keyset cursor. */
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
          ${after ? sql`AND (closed_at, order_id) < (${after[0]}, ${after[1]}::bigint)` : sql``}
        ORDER BY closed_at DESC, order_id DESC
        LIMIT ${limit + 1}`;
      const page = rows.slice(0, limit).map(closedTradeOf);
      const last = page.at(-1);
      return {
        trades: page,
        nextCursor: rows.length > limit && last ? encodeCursor(last.closedAt, last.orderId) : null,
      };
    },
  };
}
