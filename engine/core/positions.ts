/**
 * Positions: how one is made (`makePosition`), which trigger a quote fires and how clients see
 * it. The arithmetic (quantity, PnL, maintenance, liquidation and exit prices, all in integers)
 * is `@trading/shared/position_math`, which the web page uses too.
 */
import type { CloseReason, OrderView, Result } from "@trading/shared/schemas";
import { ASSETS } from "@trading/shared/assets";
import { formatDecimal, QUANTITY_SCALE } from "@trading/shared/money";
import type { Position, PositionFields } from "./state.ts";

export { exitPrice, liquidationPrice, pnlCents, quantityFor } from "@trading/shared/position_math";

export type ClosedResult = Extract<Result, { event: "closed" }>;

/** Which trigger a quote fires for an open position, if any. */
export function triggerReason(position: Position, bid: bigint, ask: bigint): CloseReason | null {
  const { stopLoss, takeProfit, liquidationPrice: liq } = position;
  if (position.side === "long") {
    if (stopLoss !== undefined && stopLoss > liq && bid <= stopLoss) return "stop_loss";
    if (bid <= liq) return "liquidation";
    if (takeProfit !== undefined && bid >= takeProfit) return "take_profit";
    return null;
  }
  if (stopLoss !== undefined && stopLoss < liq && ask >= stopLoss) return "stop_loss";
  if (ask >= liq) return "liquidation";
  if (takeProfit !== undefined && ask <= takeProfit) return "take_profit";
  return null;
}

/** A position, complete: its client view is formatted as it is made, never after. */
export function makePosition(fields: PositionFields): Position {
  return {
    seq: fields.seq,
    userId: fields.userId,
    asset: fields.asset,
    side: fields.side,
    marginCents: fields.marginCents,
    leverage: fields.leverage,
    entryPrice: fields.entryPrice,
    quantity: fields.quantity,
    liquidationPrice: fields.liquidationPrice,
    stopLoss: fields.stopLoss,
    takeProfit: fields.takeProfit,
    openedAtMs: fields.openedAtMs,
    view: orderView(fields),
    ticket: { seq: fields.seq, live: true },
    row: undefined,
  };
}

export function orderView(position: PositionFields): OrderView {
  const decimals = ASSETS[position.asset].priceDecimals;
  const view: OrderView = {
    orderId: String(position.seq),
    asset: position.asset,
    type: position.side,
    margin: position.marginCents.toString(),
    leverage: position.leverage,
    openPrice: formatDecimal(position.entryPrice, decimals),
    quantity: formatDecimal(position.quantity, QUANTITY_SCALE),
    liquidationPrice: formatDecimal(position.liquidationPrice, decimals),
    openedAt: position.openedAtMs,
  };
  if (position.stopLoss !== undefined) {
    view.stopLoss = formatDecimal(position.stopLoss, decimals);
  }
  if (position.takeProfit !== undefined) {
    view.takeProfit = formatDecimal(position.takeProfit, decimals);
  }
  return view;
}

/** What one close took from a position: all of it (`undefined` quantity), or a part. */
export interface ClosedPart {
  closeId: string;
  quantity: bigint | undefined;
  releasedMarginCents: bigint;
}

/** The close as clients see it: the position's view before it, plus how it ended. */
export function closeView(
  position: Position,
  part: ClosedPart,
  closePrice: bigint,
  pnl: bigint,
  balanceCents: bigint,
  closedAtMs: number,
  reason: CloseReason,
): Omit<ClosedResult, "event"> {
  const asset = position.asset;
  const view = position.view;
  // A full close reuses the view's own text: most closes are full, and they are formatted once.
  const quantity = part.quantity;
  return {
    ...view,
    closeId: part.closeId,
    closedQuantity: quantity === undefined
      ? view.quantity
      : formatDecimal(quantity, QUANTITY_SCALE),
    remainingQuantity: quantity === undefined
      ? "0"
      : formatDecimal(position.quantity - quantity, QUANTITY_SCALE),
    releasedMargin: quantity === undefined ? view.margin : part.releasedMarginCents.toString(),
    closePrice: formatDecimal(closePrice, ASSETS[asset].priceDecimals),
    pnl: pnl.toString(),
    balance: balanceCents.toString(),
    closedAt: closedAtMs,
    reason,
  };
}
