/**
 * Positions: how one is made (`makePosition`), its arithmetic and how clients see it, all in
 * integers. Prices are in units of 10^-d USD (d = the asset's priceDecimals), quantities in 10^-8
 * of the asset, money in cents; price × quantity is in 10^-(d+8) USD, so dividing by 10^(d+6)
 * gives cents.
 */
import type { CloseReason, OrderView, Result } from "@trading/shared/schemas";
import { ASSETS } from "@trading/shared/assets";
import { ceilDiv, floorDiv, formatDecimal, pow10, QUANTITY_SCALE } from "@trading/shared/money";
import type { Asset } from "@trading/shared/assets";
import type { Position, PositionFields, Side } from "./state.ts";

export type ClosedResult = Extract<Result, { event: "closed" }>;

function centsDivisor(asset: Asset): bigint {
  return pow10(ASSETS[asset].priceDecimals + QUANTITY_SCALE - 2);
}

/** floor(margin × leverage / price) in quantity units. */
export function quantityFor(
  asset: Asset,
  marginCents: bigint,
  leverage: number,
  price: bigint,
): bigint {
  return (marginCents * BigInt(leverage) * centsDivisor(asset)) / price;
}

/** Signed profit in cents of closing at `exitPrice`, rounded toward minus infinity. */
export function pnlCents(
  position: Pick<Position, "side" | "entryPrice" | "quantity" | "asset">,
  exitPrice: bigint,
): bigint {
  const move = position.side === "long"
    ? exitPrice - position.entryPrice
    : position.entryPrice - exitPrice;
  return floorDiv(move * position.quantity, centsDivisor(position.asset));
}

/** Maintenance margin: entry notional × MMR, rounded up in the house's favour. */
export function maintenanceCents(
  asset: Asset,
  entryPrice: bigint,
  quantity: bigint,
  mmrBps: number,
): bigint {
  const notionalCents = (entryPrice * quantity) / centsDivisor(asset);
  return ceilDiv(notionalCents * BigInt(mmrBps), 10_000n);
}

/**
 * The price at which margin + pnl reaches maintenance, fixed at open. Rounded toward the
 * entry so that at the trigger the equity left is still at least the maintenance margin.
 */
export function liquidationPrice(
  asset: Asset,
  side: Side,
  entryPrice: bigint,
  quantity: bigint,
  marginCents: bigint,
  mmrBps: number,
): bigint {
  const cushionCents = marginCents - maintenanceCents(asset, entryPrice, quantity, mmrBps);
  const move = floorDiv(cushionCents * centsDivisor(asset), quantity);
  if (side === "short") return entryPrice + move;
  const price = entryPrice - move;
  return price > 0n ? price : 0n;
}

/** The quote a position exits at: a long sells at the bid, a short buys at the ask. */
export function exitPrice(side: Side, bid: bigint, ask: bigint): bigint {
  return side === "long" ? bid : ask;
}

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

/** The close as clients see it: the opened view plus how it ended. */
export function closeView(
  position: Position,
  closePrice: bigint,
  pnl: bigint,
  balanceCents: bigint,
  closedAtMs: number,
  reason: CloseReason,
): ClosedResult {
  const asset = position.asset;
  return {
    event: "closed",
    ...position.view,
    closePrice: formatDecimal(closePrice, ASSETS[asset].priceDecimals),
    pnl: pnl.toString(),
    balance: balanceCents.toString(),
    closedAt: closedAtMs,
    reason,
  };
}
