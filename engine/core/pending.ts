/** Pending orders: how one is made (`makePending`), which quote fills it, how clients see it. */
import type { EndedOrderView, EndedStatus, PendingView } from "@trading/shared/schemas";
import { ASSETS } from "@trading/shared/assets";
import { formatDecimal } from "@trading/shared/money";
import type { PendingFields, PendingOrder } from "./state.ts";

/** Whether the quote meets the order's condition (`triggersAt`'s table in pending_index.ts). */
export function pendingTriggers(
  order: Pick<PendingFields, "side" | "orderType" | "triggerPrice">,
  bid: bigint,
  ask: bigint,
): boolean {
  const { triggerPrice } = order;
  if (order.side === "long") {
    return order.orderType === "limit" ? ask <= triggerPrice : ask >= triggerPrice;
  }
  return order.orderType === "limit" ? bid >= triggerPrice : bid <= triggerPrice;
}

/** A pending order, complete: its client view is formatted as it is made, never after. */
export function makePending(fields: PendingFields): PendingOrder {
  return {
    seq: fields.seq,
    userId: fields.userId,
    asset: fields.asset,
    side: fields.side,
    orderType: fields.orderType,
    marginCents: fields.marginCents,
    feeReserveCents: fields.feeReserveCents,
    leverage: fields.leverage,
    triggerPrice: fields.triggerPrice,
    stopLoss: fields.stopLoss,
    takeProfit: fields.takeProfit,
    expiresAtMs: fields.expiresAtMs,
    createdAtMs: fields.createdAtMs,
    view: pendingView(fields),
    ticket: { seq: fields.seq, live: true },
    row: undefined,
  };
}

function pendingView(order: PendingFields): PendingView {
  const decimals = ASSETS[order.asset].priceDecimals;
  const view: PendingView = {
    orderId: String(order.seq),
    status: "pending",
    orderType: order.orderType,
    asset: order.asset,
    type: order.side,
    margin: order.marginCents.toString(),
    leverage: order.leverage,
    triggerPrice: formatDecimal(order.triggerPrice, decimals),
    createdAt: order.createdAtMs,
  };
  if (order.stopLoss !== undefined) view.stopLoss = formatDecimal(order.stopLoss, decimals);
  if (order.takeProfit !== undefined) view.takeProfit = formatDecimal(order.takeProfit, decimals);
  if (order.expiresAtMs !== undefined) view.expiresAt = order.expiresAtMs;
  return view;
}

/** The order as `orders_history` lists it once it stopped waiting. */
export function endedView(order: PendingOrder, status: EndedStatus, endedAtMs: number) {
  const view: EndedOrderView = { ...order.view, status, endedAt: endedAtMs };
  return view;
}
