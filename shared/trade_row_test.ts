/** The closed-trade row: its columns are the `trades` table's, and it round-trips a close. */
import assert from "node:assert/strict";
import { migrationScript } from "./db.ts";
import type { CloseView } from "./schemas/output.ts";
import {
  closedTradeOf,
  closedTradeSchema,
  type StoredTradeRow,
  TRADE_COLUMNS,
  TRADE_EXTRA_COLUMNS,
  TRADE_FIELDS,
  tradeRow,
} from "./trade_row.ts";

const CLOSE: CloseView = {
  orderId: "7",
  asset: "BTC",
  type: "long",
  margin: "10000",
  leverage: 10,
  openPrice: "97000",
  quantity: "0.00103092",
  liquidationPrice: "87785",
  stopLoss: "90000",
  openedAt: 1_764_115_200_000,
  closeId: "1764115260000-0-7",
  closedQuantity: "0.00103092",
  remainingQuantity: "0",
  releasedMargin: "10000",
  closePrice: "97100",
  pnl: "-9",
  fee: "12",
  balance: "499991",
  closedAt: 1_764_115_260_000,
  reason: "stop_loss",
};

Deno.test("TRADE_COLUMNS and the extra columns are exactly the trades table's columns", () => {
  const ddl = /CREATE TABLE IF NOT EXISTS trades \(([^$]*?)\n\s*\)/.exec(migrationScript());
  assert.ok(ddl, "the trades DDL is in the migrations");
  const created = ddl[1]!.split(",").map((line) => line.trim().split(/\s+/)[0]);
  const added = [...migrationScript().matchAll(/ADD COLUMN (\w+)/g)].map((match) => match[1]);
  const columns = [...created, ...added];
  assert.deepEqual(
    [...columns].sort(),
    [...Object.values(TRADE_COLUMNS), ...TRADE_EXTRA_COLUMNS].sort(),
  );
});

Deno.test("a close becomes a row and reads back as the record GET /trades lists", () => {
  const row = tradeRow("u1", "5-0", CLOSE);
  assert.deepEqual(row, {
    order_id: "7",
    asset: "BTC",
    side: "long",
    margin_cents: "10000",
    leverage: 10,
    open_price: "97000",
    close_price: "97100",
    quantity: "0.00103092",
    pnl_cents: "-9",
    reason: "stop_loss",
    opened_at: 1_764_115_200_000,
    closed_at: 1_764_115_260_000,
    close_id: "1764115260000-0-7",
    closed_quantity: "0.00103092",
    released_margin_cents: "10000",
    fee_cents: "12",
    user_id: "u1",
    cause: "5-0",
  });
  // As postgres.js returns it: bigint columns as text.
  const stored: StoredTradeRow = {
    ...row,
    opened_at: String(row.opened_at),
    closed_at: String(row.closed_at),
  };
  const trade = closedTradeOf(stored);
  assert.deepEqual(Object.keys(trade), TRADE_FIELDS);
  assert.deepEqual(trade, closedTradeSchema.parse(CLOSE));
  assert.deepEqual(Object.keys(closedTradeSchema.shape), TRADE_FIELDS);
});

Deno.test("a close written before close ids existed gets the row the migration gave old rows", () => {
  const {
    closeId: _,
    closedQuantity: _q,
    remainingQuantity: _r,
    releasedMargin: _m,
    fee: _f,
    ...legacy
  } = CLOSE;
  const row = tradeRow("u1", "1764115260000-3", legacy);
  assert.equal(row.close_id, "1764115260000-3-7");
  assert.equal(row.closed_quantity, CLOSE.quantity);
  assert.equal(row.released_margin_cents, CLOSE.margin);
  assert.match(migrationScript(), /close_id = cause \|\| '-' \|\| order_id/);
  // A close from before fees paid none, as the column's default says of old rows.
  assert.equal(row.fee_cents, "0");
  assert.match(migrationScript(), /ADD COLUMN fee_cents bigint NOT NULL DEFAULT 0/);
});
