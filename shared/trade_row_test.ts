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
  closePrice: "97100",
  pnl: "-9",
  balance: "499991",
  closedAt: 1_764_115_260_000,
  reason: "stop_loss",
};

Deno.test("TRADE_COLUMNS and the extra columns are exactly the trades table's columns", () => {
  const ddl = /CREATE TABLE IF NOT EXISTS trades \(([^$]*?)\n\s*\)/.exec(migrationScript());
  assert.ok(ddl, "the trades DDL is in the migrations");
  const columns = ddl[1]!.split(",").map((line) => line.trim().split(/\s+/)[0]);
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
