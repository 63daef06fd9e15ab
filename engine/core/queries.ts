/**
 * Reads of an account (`query` entries), each bounded: money without positions, or a page of
 * at most `limit` open positions, pending orders or ended pending orders.
 */
import { type AccountFigures, OPEN_PAGE_DEFAULT } from "@trading/shared/schemas";
import { type Outcome, unrealizedPnl } from "./book.ts";
import { endedView } from "./pending.ts";
import type { Account, EngineState } from "./state.ts";

/** Balance, locked and reserved margin, and equity (positions at the latest exit quotes). */
export function accountState(state: EngineState, userId: string): Outcome {
  const account = state.accounts.get(userId);
  if (account === undefined) return "account_not_found";
  return { event: "account_state", ...accountFigures(state, account) };
}

/**
 * An account's money now: what `/balance` reads and every order event carries. Costs one PnL
 * per open position of the account (at most `maxOpenPositions`).
 */
export function accountFigures(state: EngineState, account: Account): AccountFigures {
  let unrealizedCents = 0n;
  for (const seq of account.openSeqs) {
    unrealizedCents += unrealizedPnl(state, state.positions.get(seq)!);
  }
  const { balanceCents, lockedCents, pendingCents } = account;
  return {
    balance: balanceCents.toString(),
    locked: lockedCents.toString(),
    pending: pendingCents.toString(),
    equity: (balanceCents + lockedCents + pendingCents + unrealizedCents).toString(),
  };
}

/**
 * Up to `limit` of `seqs` after the order `cursor`, in order ID order. A pending order fills
 * into the open positions after younger ones opened, so the sets are not in seq order.
 */
function pageOf(seqs: Iterable<number>, limit: number, cursor: string | undefined) {
  const after = cursor === undefined ? 0 : Number(cursor);
  const sorted = [...seqs].filter((seq) => seq > after).sort((a, b) => a - b);
  const page = sorted.slice(0, limit);
  const nextCursor = sorted.length > limit ? String(page[page.length - 1]) : null;
  return { page, nextCursor };
}

export function openPositions(
  state: EngineState,
  userId: string,
  limit = OPEN_PAGE_DEFAULT,
  cursor?: string,
): Outcome {
  const account = state.accounts.get(userId);
  if (account === undefined) return "account_not_found";
  const { page, nextCursor } = pageOf(account.openSeqs, limit, cursor);
  const positions = page.map((seq) => {
    const position = state.positions.get(seq)!;
    return { ...position.view, unrealizedPnl: unrealizedPnl(state, position).toString() };
  });
  return { event: "open_positions", positions, nextCursor };
}

export function pendingOrders(
  state: EngineState,
  userId: string,
  limit = OPEN_PAGE_DEFAULT,
  cursor?: string,
): Outcome {
  const account = state.accounts.get(userId);
  if (account === undefined) return "account_not_found";
  const { page, nextCursor } = pageOf(account.pendingSeqs, limit, cursor);
  const orders = page.map((seq) => state.pending.get(seq)!.view);
  return { event: "pending_orders", orders, nextCursor };
}

/**
 * The account's remembered ended pending orders, newest first: `limit` of them after the
 * order `cursor` (an order ends once, so its ID marks its place). A cursor no longer
 * remembered gives an empty page.
 */
export function ordersHistory(
  state: EngineState,
  userId: string,
  limit = OPEN_PAGE_DEFAULT,
  cursor?: string,
): Outcome {
  const account = state.accounts.get(userId);
  if (account === undefined) return "account_not_found";
  const ended = account.endedOrders;
  const oldest = Math.max(0, ended.length - state.params.endedOrdersKept);
  let start = ended.length - 1;
  if (cursor !== undefined) {
    const seq = Number(cursor);
    while (start >= oldest && ended[start]!.order.seq !== seq) start--;
    start--;
  }
  const orders = [];
  let i = start;
  for (; i >= oldest && orders.length < limit; i--) {
    const { order, status, endedAtMs } = ended[i]!;
    orders.push(endedView(order, status, endedAtMs));
  }
  const nextCursor = i >= oldest && orders.length > 0 ? orders[orders.length - 1]!.orderId : null;
  return { event: "orders_history", orders, nextCursor };
}
