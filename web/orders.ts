/**
 * The page's orders: open positions, pending orders and the closes seen live, kept in step with
 * the gateway's `order` messages (`{"type":"order","event",...,"side"}`; cents already bigint by
 * `parseJson`). No DOM here: app.ts renders, this applies. Applying a message is idempotent
 * (upserts and removals by orderId, closes by closeId), so the messages that arrived while a
 * reload was in flight can be applied again on top of what it fetched.
 */
import { type Asset, isAsset } from "@trading/shared/assets";
import type { ClosedTrade as TradeRecord } from "@trading/shared/db";
import { formatDecimal, parseDecimal, QUANTITY_SCALE } from "@trading/shared/money";
import { price, priceUnits, usd } from "./format.ts";

export type Side = "long" | "short";

export interface OpenTrade {
  orderId: string;
  asset: Asset;
  type: Side;
  margin: bigint;
  leverage: number;
  openPrice: string;
  quantity: string;
  liquidationPrice: string;
  /** Where a margin call fires (twice the maintenance margin left); absent from older APIs. */
  warningPrice?: string;
  stopLoss?: string;
  takeProfit?: string;
  openedAt: number;
  /** The commission charged at the open, in cents (present where the API charges fees). */
  fee?: bigint;
}

/** A waiting limit or stop order (`GET /orders/pending`). */
export interface PendingOrder {
  orderId: string;
  orderType: "limit" | "stop";
  asset: Asset;
  type: Side;
  margin: bigint;
  leverage: number;
  triggerPrice: string;
  stopLoss?: string;
  takeProfit?: string;
  expiresAt?: number;
  createdAt: number;
}

/**
 * A closed trade as the page holds it: the history's record (`GET /trades`, or the fields of an
 * order message that closed all or part of a position), with cents as bigint (`parseJson`).
 */
export type ClosedTrade =
  & Omit<TradeRecord, "asset" | "margin" | "pnl" | "releasedMargin" | "fee">
  & {
    asset: Asset;
    margin: bigint;
    pnl: bigint;
    releasedMargin?: bigint;
    /** The commission charged at this close, in cents; absent where the API charges none. */
    fee?: bigint;
  };

/** A `margin_call` the user has not dismissed, of a position still open. */
export interface MarginCall {
  orderId: string;
  liquidationPrice: string;
  warningPrice: string;
  /** The position's, as the message names them. */
  asset?: Asset;
  side?: Side;
}

export type OrderMessage = Record<string, unknown> & { event?: unknown; side?: unknown };

/** What a message says to the user, and how (the page's message kinds). */
export type Notice = [text: string, kind: "ok" | "loss" | "info"];

/** A message's order fields with `side` back as `type`, the REST views' name for it. */
function unsided<T>(fields: Record<string, unknown>): T {
  const { side, type: _message, event: _event, ...rest } = fields;
  return { ...rest, type: side } as T;
}

/** ", fee $0.97" when a message carries a fee (cents, bigint by `parseJson`) above zero. */
function feeText(fee: unknown): string {
  return typeof fee === "bigint" && fee !== 0n ? `, fee ${usd(fee)}` : "";
}

/** A price from a message in the asset's format, or as it came when it does not parse. */
function priceText(asset: Asset | undefined, text: string): string {
  if (asset === undefined) return text;
  try {
    return price(asset, priceUnits(asset, text));
  } catch {
    return text;
  }
}

/** Numeric order IDs in order; any others after, by text. */
function byOrderId(a: { orderId: string }, b: { orderId: string }): number {
  return a.orderId.length - b.orderId.length || (a.orderId < b.orderId ? -1 : 1);
}

export class Orders {
  readonly open = new Map<string, OpenTrade>();
  readonly pending = new Map<string, PendingOrder>();
  /**
   * Closes seen on the WebSocket, by closeId, until the history (written to Postgres by the
   * engine's history writer, a moment later) includes them: the table shows a close at once.
   */
  readonly liveCloses = new Map<string, ClosedTrade>();
  /**
   * Margin calls to show, by orderId, of open positions only: until dismissed, or until the
   * position closes.
   */
  readonly marginCalls = new Map<string, MarginCall>();

  /** Replaces the lists with a reload's (`/trades/open`, `/orders/pending`). */
  load(open: readonly OpenTrade[], pending: readonly PendingOrder[] | undefined): void {
    this.open.clear();
    for (const trade of open) this.open.set(trade.orderId, trade);
    for (const orderId of this.marginCalls.keys()) {
      if (!this.open.has(orderId)) this.marginCalls.delete(orderId);
    }
    if (pending === undefined) return;
    this.pending.clear();
    for (const order of pending) this.pending.set(order.orderId, order);
  }

  clear(): void {
    this.open.clear();
    this.pending.clear();
    this.liveCloses.clear();
    this.marginCalls.clear();
  }

  /** The user closed a margin call's banner; the next margin call of the position shows again. */
  dismissMarginCall(orderId: string): void {
    this.marginCalls.delete(orderId);
  }

  /** A margin call in words, with its position's asset and side when the page knows them. */
  marginCallText(call: MarginCall): string {
    const trade = this.open.get(call.orderId);
    const asset = trade?.asset ?? call.asset;
    const side = trade?.type ?? call.side;
    const what = asset === undefined || side === undefined
      ? `Position #${call.orderId}`
      : `${asset} ${side} #${call.orderId}`;
    return `Margin call: ${what} is near liquidation at ${
      priceText(asset, call.liquidationPrice)
    } (warning level ${priceText(asset, call.warningPrice)}).`;
  }

  openTrades(): OpenTrade[] {
    return [...this.open.values()].sort(byOrderId);
  }

  pendingOrders(): PendingOrder[] {
    return [...this.pending.values()].sort(byOrderId);
  }

  /** The history to show: live closes the fetched page lacks, then the page, newest first. */
  history(fetched: readonly ClosedTrade[], limit: number): ClosedTrade[] {
    for (const trade of fetched) this.liveCloses.delete(trade.closeId);
    return [...this.liveCloses.values(), ...fetched]
      .sort((a, b) => b.closedAt - a.closedAt || byOrderId(b, a))
      .slice(0, limit);
  }

  /** Applies an `order` message; what to tell the user, or undefined for an unknown event. */
  apply(message: OrderMessage): Notice | undefined {
    const orderId = String(message.orderId);
    const what = `${message.asset} ${message.side} #${orderId}`;
    switch (message.event) {
      case "opened":
      case "filled": {
        this.pending.delete(orderId);
        this.open.set(orderId, unsided<OpenTrade>(message));
        const fee = feeText(message.fee);
        return message.event === "opened"
          ? [`Opened ${what}${fee}.`, "ok"]
          : [`Filled ${what} ${message.orderType} at ${message.openPrice}${fee}.`, "ok"];
      }
      case "placed":
        this.pending.set(orderId, unsided<PendingOrder>(message));
        return [`Placed ${what} ${message.orderType} at ${message.triggerPrice}.`, "info"];
      case "cancelled":
      case "expired":
        this.pending.delete(orderId);
        return [`${message.event === "cancelled" ? "Cancelled" : "Expired"} ${what}.`, "info"];
      case "modified":
        if (message.status === "pending") {
          if (this.pending.has(orderId)) {
            this.pending.set(orderId, unsided<PendingOrder>(message));
          }
        } else if (this.open.has(orderId)) {
          const { unrealizedPnl: _pnl, status: _status, ...view } = message;
          this.open.set(orderId, unsided<OpenTrade>(view));
        }
        return [`Updated stop-loss / take-profit of ${what}.`, "info"];
      case "partially_closed":
      case "closed": {
        const { remaining, ...fields } = message;
        const closed = unsided<ClosedTrade>(fields);
        closed.closeId ??= `${closed.closedAt}-${orderId}`;
        closed.closedQuantity ??= closed.quantity;
        this.liveCloses.set(closed.closeId, closed);
        if (message.event === "closed") {
          this.open.delete(orderId);
          this.marginCalls.delete(orderId);
        } else if (this.open.has(orderId) && typeof remaining === "object" && remaining !== null) {
          this.open.set(orderId, unsided<OpenTrade>(remaining as Record<string, unknown>));
        }
        const part = message.event === "closed" ? "Closed" : `Closed ${closed.closedQuantity} of`;
        return [
          `${part} ${what} (${closed.reason.replace("_", "-")}), PnL ${usd(closed.pnl)}${
            feeText(closed.fee)
          }.`,
          closed.pnl < 0n ? "loss" : "ok",
        ];
      }
      case "margin_call": {
        const call: MarginCall = {
          orderId,
          liquidationPrice: String(message.liquidationPrice),
          warningPrice: String(message.warningPrice),
          ...(isAsset(message.asset) ? { asset: message.asset } : {}),
          ...(message.side === "long" || message.side === "short" ? { side: message.side } : {}),
        };
        // Only an open position's: the banners are bounded by the positions (its `opened` came
        // first on the socket, or with the reload the message is applied again after).
        if (this.open.has(orderId)) this.marginCalls.set(orderId, call);
        return [this.marginCallText(call), "loss"];
      }
      default:
        return undefined;
    }
  }
}

/**
 * `percent` % of a quantity (a decimal string of up to 8 decimals), floored to the 10^-8 unit:
 * computed on integer units, never through a float.
 */
export function percentOf(quantity: string, percent: number): string {
  const units = parseDecimal(quantity, QUANTITY_SCALE, { allowZero: true });
  return formatDecimal(units * BigInt(percent) / 100n, QUANTITY_SCALE);
}

/** A part to close, checked as the engine will: more than 0, at most the position's quantity. */
export function partToClose(text: string, quantity: string): string | { quantity: string } {
  let part: bigint;
  try {
    part = parseDecimal(text.trim(), QUANTITY_SCALE, { allowZero: false });
  } catch {
    return "The quantity must be a number with at most 8 decimals, like 0.005.";
  }
  if (part > parseDecimal(quantity, QUANTITY_SCALE)) {
    return `The quantity must be at most the position's ${quantity}.`;
  }
  return { quantity: formatDecimal(part, QUANTITY_SCALE) };
}

/**
 * A price the user typed for an asset: the decimal string to send, undefined when empty, or
 * what is wrong with it.
 */
export function typedPrice(
  asset: Asset,
  text: string,
  name: string,
  example = 100n,
): string | undefined | { error: string } {
  const trimmed = text.trim().replaceAll(",", "");
  if (trimmed === "") return undefined;
  try {
    if (priceUnits(asset, trimmed) <= 0n) throw new Error("not positive");
  } catch {
    return { error: `${name} must be a price like ${price(asset, example).replaceAll(",", "")}.` };
  }
  return trimmed;
}
