/** Stable refusal codes (business outcomes, not exceptions) and their default wording. */
import type { RefusalCode } from "@trading/shared/schemas";

export type { RefusalCode };

export const REFUSAL_MESSAGES: Readonly<Record<RefusalCode, string>> = {
  invalid_entry: "the instruction is malformed",
  unknown_asset: "the asset is not traded here",
  account_not_found: "no account for this user",
  no_price: "no price has been received for this asset yet",
  stale_price: "the latest price for this asset is too old to trade on",
  insufficient_balance: "the margin exceeds the available balance",
  slippage_exceeded: "the fill price is beyond the accepted slippage",
  invalid_trigger: "stop-loss or take-profit is on the wrong side of the current price",
  quantity_too_small: "margin × leverage buys less than the smallest quantity",
  order_not_found: "no such order",
  order_closed: "the order is already closed",
  too_many_positions: "the account holds as many open positions as it may",
  too_many_orders: "the account holds as many pending orders as it may",
  idempotency_key_reused: "this Idempotency-Key was already used for a different request",
  order_not_pending: "the order is not pending: it was filled, cancelled or expired",
  invalid_quantity:
    "the quantity is zero, more than the position holds, or would leave less than 100 cents open",
  positions_open: "close every open position and cancel every pending order first",
};

/** Thrown only for a broken invariant: a bug, never a user's input. */
export class InvariantError extends Error {
  override name = "InvariantError";
}

export function invariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}
