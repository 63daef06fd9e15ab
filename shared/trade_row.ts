/**
 * A close as the history keeps it: one row of Postgres's `trades` table per close, partial or
 * full, keyed by its `closeId` (its DDL is in `db.ts`'s MIGRATIONS), each column one field of
 * the engine's close (`closeViewSchema`).
 * `TRADE_COLUMNS` is the one statement of which fields are kept and in which column: the history
 * writer's rows (`tradeRow`), the API's reads (`closedTradeOf`), the record's schema and type
 * (`closedTradeSchema`, `ClosedTrade`: the HTTP schema and the web page's type derive from them)
 * all come from it, and `trade_row_test.ts` holds it to the DDL.
 */
import type { z } from "zod";
import { type CloseView, closeViewSchema } from "./schemas/output.ts";

/** Fields of a close the history does not keep. */
type NotKept =
  | "liquidationPrice"
  | "warningPrice"
  | "stopLoss"
  | "takeProfit"
  | "balance"
  | "remainingQuantity";

/**
 * Each kept field of a close and its column, in the order `GET /trades` writes them. A field
 * added to the close view fails to compile here until it is kept or listed in `NotKept`.
 */
export const TRADE_COLUMNS = {
  orderId: "order_id",
  asset: "asset",
  type: "side",
  margin: "margin_cents",
  leverage: "leverage",
  openPrice: "open_price",
  closePrice: "close_price",
  quantity: "quantity",
  pnl: "pnl_cents",
  reason: "reason",
  openedAt: "opened_at",
  closedAt: "closed_at",
  closeId: "close_id",
  closedQuantity: "closed_quantity",
  releasedMargin: "released_margin_cents",
  fee: "fee_cents",
} as const satisfies Record<Exclude<keyof CloseView, NotKept>, string>;

export type TradeField = keyof typeof TRADE_COLUMNS;
type Columns = typeof TRADE_COLUMNS;

export const TRADE_FIELDS = Object.keys(TRADE_COLUMNS) as TradeField[];

/** Columns of `trades` that are not fields of the close: whose it is, and the output it came from. */
export const TRADE_EXTRA_COLUMNS = ["user_id", "cause"] as const;

/**
 * A close as the history lists it (cents as strings, as in every engine output). Every row has
 * the close fields: a close written before they existed gets them from `legacyCloseFields`.
 */
export const closedTradeSchema = closeViewSchema.pick(
  Object.fromEntries(TRADE_FIELDS.map((field) => [field, true])) as Record<TradeField, true>,
).required({ closeId: true, closedQuantity: true, releasedMargin: true, fee: true });
export type ClosedTrade = z.infer<typeof closedTradeSchema>;

/** A row of `trades` as the history writer inserts it. */
export type TradeRow =
  & { [F in TradeField as Columns[F]]: ClosedTrade[F] }
  & { user_id: string; cause: string };

/**
 * What a close written before partial closes existed stands for: all of the position, all of
 * its margin, and the id `<cause>-<orderId>`, the engine's own rule (`closeViewSchema`); the
 * migration gave old rows the same, so such a close read again is the row it already made. A
 * close from before fees paid none (the fee column's default for old rows).
 */
export function legacyCloseFields(cause: string, closed: CloseView) {
  return {
    closeId: closed.closeId ?? `${cause}-${closed.orderId}`,
    closedQuantity: closed.closedQuantity ?? closed.quantity,
    releasedMargin: closed.releasedMargin ?? closed.margin,
    fee: closed.fee ?? "0",
  };
}

/** The row that records `closed`, closed for `userId` by the output `cause`. */
export function tradeRow(userId: string, cause: string, closed: CloseView): TradeRow {
  const complete = { ...closed, ...legacyCloseFields(cause, closed) };
  const row: Record<string, unknown> = {};
  for (const field of TRADE_FIELDS) row[TRADE_COLUMNS[field]] = complete[field];
  row.user_id = userId;
  row.cause = cause;
  return row as TradeRow;
}

/** Number fields kept in `bigint` columns, which postgres.js reads back as decimal text. */
type TextColumn = "opened_at" | "closed_at";

/** A row of `trades` as postgres.js reads it back: bigint columns as decimal text. */
export type StoredTradeRow =
  & { [F in TradeField as Columns[F]]: Columns[F] extends TextColumn ? string : ClosedTrade[F] }
  & Partial<Record<typeof TRADE_EXTRA_COLUMNS[number], string>>;

/** The closed trade a row of `trades` records, fields in `TRADE_COLUMNS`'s order. */
export function closedTradeOf(row: StoredTradeRow): ClosedTrade {
  const trade: Record<string, unknown> = {};
  for (const field of TRADE_FIELDS) trade[field] = row[TRADE_COLUMNS[field]];
  trade.openedAt = Number(row.opened_at);
  trade.closedAt = Number(row.closed_at);
  return trade as ClosedTrade;
}
