/**
 * Positions: how one is made (`makePosition`), which trigger a quote fires and how clients see
 * it. The arithmetic (quantity, PnL, maintenance, liquidation and exit prices, all in integers)
 * is `@trading/shared/position_math`, which the web page uses too.
 */
import type { CloseReason, OrderView, Result } from "@trading/shared/schemas";
import { ASSETS } from "@trading/shared/assets";
import { formatDecimal, QUANTITY_SCALE } from "@trading/shared/money";
import type { Position, PositionFields } from "./state.ts";

export {
  exitPrice,
  feeCents,
  liquidationPrice,
  maxOpenFeeCents,
  pnlCents,
  quantityFor,
  warningPrice,
} from "@trading/shared/position_math";

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
    warningPrice: fields.warningPrice,
    marginCalled: fields.marginCalled,
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
    warningPrice: formatDecimal(position.warningPrice, decimals),
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

/**
 * The close as clients see it: the position's view before it, plus how it ended; `quantity`
 * undefined for a full close. `event` comes first, as it always has in the JSON. Copying the
 * view key by key, in `orderView`'s order, is what keeps that cheap: a literal with a key before
 * a spread (`{ event, ...view }`) copies through the runtime's slow path, and spreading the
 * result again cost the close path about a third of its time.
 */
export function closeView<E extends "closed" | "partially_closed">(
  event: E,
  position: Position,
  closeId: string,
  quantity: bigint | undefined,
  releasedMarginCents: bigint,
  closePrice: bigint,
  pnl: bigint,
  feeCents: bigint,
  balanceCents: bigint,
  closedAtMs: number,
  reason: CloseReason,
): Omit<ClosedResult, "event"> & { event: E } {
  const view = position.view;
  const closed: Omit<ClosedResult, "event"> & { event: E } = {
    event,
    orderId: view.orderId,
    asset: view.asset,
    type: view.type,
    margin: view.margin,
    leverage: view.leverage,
    openPrice: view.openPrice,
    quantity: view.quantity,
    liquidationPrice: view.liquidationPrice,
    warningPrice: view.warningPrice,
    openedAt: view.openedAt,
  } as Omit<ClosedResult, "event"> & { event: E };
  if (view.stopLoss !== undefined) closed.stopLoss = view.stopLoss;
  if (view.takeProfit !== undefined) closed.takeProfit = view.takeProfit;
  closed.closeId = closeId;
  // A full close reuses the view's own text: most closes are full, and they are formatted once.
  closed.closedQuantity = quantity === undefined
    ? view.quantity
    : formatDecimal(quantity, QUANTITY_SCALE);
  closed.remainingQuantity = quantity === undefined
    ? "0"
    : formatDecimal(position.quantity - quantity, QUANTITY_SCALE);
  closed.releasedMargin = quantity === undefined ? view.margin : releasedMarginCents.toString();
  closed.closePrice = formatDecimal(closePrice, ASSETS[position.asset].priceDecimals);
  closed.pnl = pnl.toString();
  closed.fee = feeCents.toString();
  closed.balance = balanceCents.toString();
  closed.closedAt = closedAtMs;
  closed.reason = reason;
  return closed;
}
