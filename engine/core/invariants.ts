/**
 * Whole-state checks. Each walks every account and position, so the core never runs them per
 * entry: its per-change asserts are in `apply.ts`. The tests run these after every step, and the
 * engine process's conservation check (`conservationBreak`, engine/io/recovery.ts) is built on
 * `conservationGap` and `totalsOf`.
 */
import { type Account, type EngineState, MAX_REMEMBERED_CHARS, reservedCents } from "./state.ts";

export interface Totals {
  balancesCents: bigint;
  lockedCents: bigint;
  /** Margin and fee reserves held by pending orders. */
  pendingCents: bigint;
  houseCents: bigint;
  creditedCents: bigint;
  minBalanceCents: bigint;
}

export function totalsOf(state: EngineState): Totals {
  let balancesCents = 0n;
  let minBalanceCents = 0n;
  for (const account of state.accounts.values()) {
    balancesCents += account.balanceCents;
    if (account.balanceCents < minBalanceCents) minBalanceCents = account.balanceCents;
  }
  let lockedCents = 0n;
  for (const position of state.positions.values()) lockedCents += position.marginCents;
  let pendingCents = 0n;
  for (const order of state.pending.values()) pendingCents += reservedCents(order);
  return {
    balancesCents,
    lockedCents,
    pendingCents,
    houseCents: state.houseCents,
    creditedCents: state.creditedCents,
    minBalanceCents,
  };
}

/**
 * balances + locked margin + reserved margin and fees + house − credited: zero in every valid
 * state (fees move money from balances to the house; a reset moves `credited` with the balance).
 */
export function conservationGap(state: EngineState): bigint {
  const t = totalsOf(state);
  return t.balancesCents + t.lockedCents + t.pendingCents + t.houseCents - t.creditedCents;
}

/**
 * What exceeds a per-account cap or disagrees with its derived count, if anything. Holds while
 * the parameters stay as they were: a lowered cap (a `configure` entry) leaves accounts above it.
 */
export function limitBreach(state: EngineState): string | undefined {
  const { maxOpenPositions, maxPendingOrders, maxIdempotencyKeys, closedOrdersKept } = state.params;
  let keys = 0;
  for (const account of state.accounts.values()) {
    // A pending order holds a position's place (orders.ts), so the two share the cap.
    if (account.openSeqs.size + account.pendingSeqs.size > maxOpenPositions) {
      return `${account.userId}: too many positions`;
    }
    if (account.pendingSeqs.size > maxPendingOrders) return `${account.userId}: too many orders`;
    if (account.endedOrders.length >= 2 * state.params.endedOrdersKept) {
      return `${account.userId}: ended`;
    }
    const derived = derivedBreach(state, account);
    if (derived !== undefined) return `${account.userId}: ${derived}`;
    if (account.idempotencyKeys.size > maxIdempotencyKeys) {
      return `${account.userId}: too many keys`;
    }
    let chars = 0;
    for (const key of account.idempotencyKeys) chars += state.idempotency.get(key)!.result.length;
    if (chars !== account.idempotencyChars) return `${account.userId}: remembered text miscounted`;
    if (chars > MAX_REMEMBERED_CHARS && account.idempotencyKeys.size > 1) {
      return `${account.userId}: remembers too much`;
    }
    if (account.closedSeqs.length >= 2 * closedOrdersKept) return `${account.userId}: closed`;
    keys += account.idempotencyKeys.size;
  }
  if (keys !== state.idempotency.size) return "per-account keys do not add up to the keys held";
  return undefined;
}

/** Whether the account's derived sums and sets agree with the positions and orders it owns. */
function derivedBreach(state: EngineState, account: Account): string | undefined {
  let locked = 0n;
  for (const seq of account.openSeqs) {
    const position = state.positions.get(seq);
    if (position?.userId !== account.userId) return `open order ${seq} is not its own`;
    locked += position.marginCents;
  }
  let pending = 0n;
  for (const seq of account.pendingSeqs) {
    const order = state.pending.get(seq);
    if (order?.userId !== account.userId) return `pending order ${seq} is not its own`;
    pending += reservedCents(order);
  }
  if (locked !== account.lockedCents) return `locked ${account.lockedCents}, margins ${locked}`;
  if (pending !== account.pendingCents) return `pending ${account.pendingCents}, orders ${pending}`;
  return undefined;
}
