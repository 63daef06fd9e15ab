/**
 * Orders beyond the market: placing a limit or stop order (or filling one at once), its fill
 * when a quote crosses its trigger price, its cancel and its expiry; and `modify`, of a
 * position or a pending order (docs/design.md §2, Pending orders).
 */
import type {
  CancelEntry,
  EndedStatus,
  ModifyEntry,
  OpenEntry,
  TriggerEvent,
} from "@trading/shared/schemas";
import type { Asset } from "@trading/shared/assets";
import {
  accountOf,
  assertAccount,
  levelsValid,
  type Outcome,
  tradableQuote,
  unrealizedPnl,
} from "./book.ts";
import { endedView, makePending, pendingTriggers } from "./pending.ts";
import {
  exitPrice,
  feeCents,
  liquidationPrice,
  makePosition,
  maxOpenFeeCents,
  quantityFor,
  warningPrice,
} from "./positions.ts";
import type { Account, EngineQuote, EngineState, PendingOrder, Position, Side } from "./state.ts";
import {
  addPending,
  addPosition,
  closedRecently,
  endedRecently,
  rememberEnded,
  removePending,
  replacePending,
  replacePosition,
  reservedCents,
} from "./state.ts";

/** An `open`: a market order, or a limit/stop order placed (or filled at once). */
export function openOrder(state: EngineState, entry: OpenEntry): Outcome {
  const account = state.accounts.get(entry.userId);
  if (account === undefined) return "account_not_found";
  // A pending order holds a position's place too, so that its fill never passes the cap.
  const held = account.openSeqs.size + account.pendingSeqs.size;
  if (held >= state.params.maxOpenPositions) return "too_many_positions";
  const quote = tradableQuote(state, entry.asset);
  if (typeof quote === "string") return quote;
  const orderType = entry.orderType ?? "market";
  if (orderType === "market") return marketOpen(state, account, entry, quote);
  const trigger = entry.triggerPrice!;
  const pendingShape = { side: entry.side, orderType, triggerPrice: trigger };
  const holds = pendingTriggers(pendingShape, quote.bid, quote.ask);
  // A stop that would fill at once is on the wrong side: the user meant a level not yet reached.
  if (holds && orderType === "stop") return "invalid_trigger";
  if (!levelsValid(entry.side, trigger, entry.stopLoss, entry.takeProfit)) {
    return "invalid_trigger";
  }
  if (holds) return marketOpen(state, account, entry, quote);
  if (account.pendingSeqs.size >= state.params.maxPendingOrders) return "too_many_orders";
  if (entry.marginCents > account.balanceCents) return "insufficient_balance";
  const asset = entry.asset as Asset;
  if (quantityFor(asset, entry.marginCents, entry.leverage, trigger) === 0n) {
    return "quantity_too_small";
  }
  // The opening fee is reserved at its most, so the fill, whatever its price, always pays it.
  const feeReserveCents = maxOpenFeeCents(entry.marginCents, entry.leverage, state.params.feeBps);
  if (entry.marginCents + feeReserveCents > account.balanceCents) return "insufficient_balance";
  const order = makePending({
    seq: state.nextOrderSeq++,
    userId: entry.userId,
    asset,
    side: entry.side,
    orderType,
    marginCents: entry.marginCents,
    feeReserveCents,
    leverage: entry.leverage,
    triggerPrice: trigger,
    stopLoss: entry.stopLoss,
    takeProfit: entry.takeProfit,
    expiresAtMs: entry.expiresAt,
    createdAtMs: state.lastMs,
  });
  account.balanceCents -= reservedCents(order);
  addPending(state, account, order);
  assertAccount(account);
  return { event: "placed", ...order.view };
}

/**
 * A fill at the current quote: a market order (slippage checked against `expectedPrice`), or
 * a limit order whose condition already holds (its limit is its slippage bound).
 */
function marketOpen(
  state: EngineState,
  account: Account,
  entry: OpenEntry,
  quote: EngineQuote,
): Outcome {
  const long = entry.side === "long";
  const fill = long ? quote.ask : quote.bid;
  const { expectedPrice, slippageBps } = entry;
  if (expectedPrice !== undefined && slippageBps !== undefined) {
    const tolerance = 10_000n + (long ? 1n : -1n) * BigInt(slippageBps);
    if (
      long ? fill * 10_000n > expectedPrice * tolerance : fill * 10_000n < expectedPrice * tolerance
    ) {
      return "slippage_exceeded";
    }
  }
  const exit = exitPrice(entry.side, quote.bid, quote.ask);
  if (!levelsValid(entry.side, exit, entry.stopLoss, entry.takeProfit)) return "invalid_trigger";
  if (entry.marginCents > account.balanceCents) return "insufficient_balance";
  const asset = entry.asset as Asset;
  const quantity = quantityFor(asset, entry.marginCents, entry.leverage, fill);
  if (quantity === 0n) return "quantity_too_small";
  const fee = feeCents(asset, fill, quantity, state.params.feeBps);
  if (entry.marginCents + fee > account.balanceCents) return "insufficient_balance";
  const position = newPosition(state, state.nextOrderSeq++, entry, asset, fill, quantity);
  account.balanceCents -= entry.marginCents + fee;
  state.houseCents += fee;
  addPosition(state, account, position);
  assertAccount(account);
  return { event: "opened", ...position.view, fee: fee.toString() };
}

/** A position opened (or filled) now at `fill`: its levels by the open rule, its call armed. */
function newPosition(
  state: EngineState,
  seq: number,
  order: {
    userId: string;
    side: Side;
    marginCents: bigint;
    leverage: number;
    stopLoss?: bigint | undefined;
    takeProfit?: bigint | undefined;
  },
  asset: Asset,
  fill: bigint,
  quantity: bigint,
): Position {
  const levels = [
    asset,
    order.side,
    fill,
    quantity,
    order.marginCents,
    state.params.mmrBps,
  ] as const;
  return makePosition({
    seq,
    userId: order.userId,
    asset,
    side: order.side,
    marginCents: order.marginCents,
    leverage: order.leverage,
    entryPrice: fill,
    quantity,
    liquidationPrice: liquidationPrice(...levels),
    warningPrice: warningPrice(...levels),
    marginCalled: false,
    stopLoss: order.stopLoss,
    takeProfit: order.takeProfit,
    openedAtMs: state.lastMs,
  });
}

type EventResult = TriggerEvent["result"];
export type FillResult = Extract<EventResult, { event: "filled" | "cancelled" }>;

/**
 * Fills a triggered pending order at the quote: its reserved margin becomes the position's,
 * under the same orderId, and its fee reserve pays the opening fee (at most all of it, should
 * the rate have risen since placement) and returns the rest to the balance. A fill that would
 * buy nothing (a gap far past a stop) cancels it.
 */
export function fillPending(
  state: EngineState,
  order: PendingOrder,
  bid: bigint,
  ask: bigint,
): FillResult {
  const account = accountOf(state, order.userId);
  const fill = order.side === "long" ? ask : bid;
  const quantity = quantityFor(order.asset, order.marginCents, order.leverage, fill);
  if (quantity === 0n) return endPending(state, account, order, "cancelled", "unfillable");
  removePending(state, account, order);
  rememberEnded(account, { order, status: "filled", endedAtMs: state.lastMs }, keptOf(state));
  const owed = feeCents(order.asset, fill, quantity, state.params.feeBps);
  const fee = owed < order.feeReserveCents ? owed : order.feeReserveCents;
  account.balanceCents += order.feeReserveCents - fee;
  state.houseCents += fee;
  const position = newPosition(state, order.seq, order, order.asset, fill, quantity);
  addPosition(state, account, position);
  assertAccount(account);
  return {
    event: "filled",
    ...position.view,
    orderType: order.orderType,
    triggerPrice: order.view.triggerPrice,
    fee: fee.toString(),
  };
}

/** A pending order that stops waiting unfilled: its margin goes back to the balance. */
export function endPending(
  state: EngineState,
  account: Account,
  order: PendingOrder,
  status: "cancelled",
  reason: "user" | "unfillable",
): Extract<EventResult, { event: "cancelled" }>;
export function endPending(
  state: EngineState,
  account: Account,
  order: PendingOrder,
  status: "expired",
): Extract<EventResult, { event: "expired" }>;
export function endPending(
  state: EngineState,
  account: Account,
  order: PendingOrder,
  status: Exclude<EndedStatus, "filled">,
  reason?: "user" | "unfillable",
): Extract<EventResult, { event: "cancelled" | "expired" }> {
  removePending(state, account, order);
  account.balanceCents += reservedCents(order);
  assertAccount(account);
  rememberEnded(account, { order, status, endedAtMs: state.lastMs }, keptOf(state));
  const view = endedView(order, status, state.lastMs);
  const balance = account.balanceCents.toString();
  return status === "cancelled"
    ? { event: "cancelled", ...view, status, reason: reason!, balance }
    : { event: "expired", ...view, status, balance };
}

export function cancelOrder(state: EngineState, entry: CancelEntry): Outcome {
  const seq = Number(entry.orderId);
  const account = state.accounts.get(entry.userId);
  if (account === undefined) return "account_not_found";
  const order = state.pending.get(seq);
  if (order !== undefined && order.userId === entry.userId) {
    return endPending(state, account, order, "cancelled", "user");
  }
  return ownedOnce(state, account, seq) ? "order_not_pending" : "order_not_found";
}

/** New stop-loss / take-profit for a position (against its exit quote) or a pending order. */
export function modifyOrder(state: EngineState, entry: ModifyEntry): Outcome {
  const seq = Number(entry.orderId);
  const account = state.accounts.get(entry.userId);
  if (account === undefined) return "account_not_found";
  const change = <T>(now: T | undefined, asked: T | null | undefined) =>
    asked === undefined ? now : asked ?? undefined;
  const position = state.positions.get(seq);
  if (position !== undefined && position.userId === entry.userId) {
    const quote = tradableQuote(state, position.asset);
    if (typeof quote === "string") return quote;
    const stopLoss = change(position.stopLoss, entry.stopLoss);
    const takeProfit = change(position.takeProfit, entry.takeProfit);
    const exit = exitPrice(position.side, quote.bid, quote.ask);
    if (!levelsValid(position.side, exit, stopLoss, takeProfit)) return "invalid_trigger";
    const next = makePosition({ ...position, stopLoss, takeProfit });
    replacePosition(state, account, position, next);
    const pnl = unrealizedPnl(state, next).toString();
    const view = { ...next.view, unrealizedPnl: pnl };
    return { event: "modified", orderId: entry.orderId, type: next.side, position: view };
  }
  const order = state.pending.get(seq);
  if (order !== undefined && order.userId === entry.userId) {
    const stopLoss = change(order.stopLoss, entry.stopLoss);
    const takeProfit = change(order.takeProfit, entry.takeProfit);
    if (!levelsValid(order.side, order.triggerPrice, stopLoss, takeProfit)) {
      return "invalid_trigger";
    }
    const next = makePending({ ...order, stopLoss, takeProfit });
    replacePending(state, order, next);
    return { event: "modified", orderId: entry.orderId, type: next.side, order: next.view };
  }
  return ownedOnce(state, account, seq) ? "order_closed" : "order_not_found";
}

/** Whether `seq` was the account's and is remembered as ended: a closed position or order. */
function ownedOnce(state: EngineState, account: Account, seq: number): boolean {
  const open = state.positions.get(seq);
  if (open !== undefined) return open.userId === account.userId;
  return closedRecently(account, seq, state.params.closedOrdersKept) ||
    endedRecently(account, seq, keptOf(state)) !== undefined;
}

function keptOf(state: EngineState): number {
  return state.params.endedOrdersKept;
}
