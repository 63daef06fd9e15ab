/** Canonical snapshot rows that are encoded once and cached on what they encode. */
import type { EndedOrder, PendingOrder, Position } from "./state.ts";

/**
 * A position's canonical row. The first snapshot that meets the position encodes it and caches
 * it as `Position.row` (positions never change), so opening a position costs nothing extra.
 */
export function positionRow(x: Position): string {
  return JSON.stringify([
    x.seq,
    x.userId,
    x.asset,
    x.side,
    x.marginCents.toString(),
    x.leverage,
    x.entryPrice.toString(),
    x.quantity.toString(),
    x.liquidationPrice.toString(),
    x.stopLoss === undefined ? null : x.stopLoss.toString(),
    x.takeProfit === undefined ? null : x.takeProfit.toString(),
    x.openedAtMs,
    x.warningPrice.toString(),
    x.marginCalled,
  ]);
}

/** A pending order's canonical row, cached as `PendingOrder.row` (orders never change either). */
export function pendingRow(x: PendingOrder): string {
  return JSON.stringify([
    x.seq,
    x.userId,
    x.asset,
    x.side,
    x.orderType,
    x.marginCents.toString(),
    x.leverage,
    x.triggerPrice.toString(),
    x.stopLoss === undefined ? null : x.stopLoss.toString(),
    x.takeProfit === undefined ? null : x.takeProfit.toString(),
    x.expiresAtMs ?? null,
    x.createdAtMs,
    x.feeReserveCents.toString(),
  ]);
}

/** An ended order's row: how and when it ended, then the order's own row. */
export function endedRow(x: EndedOrder): string {
  return `[${JSON.stringify(x.status)},${x.endedAtMs},${x.order.row ??= pendingRow(x.order)}]`;
}
