/**
 * Whole-state checks. Each walks every account and position, so the core never runs them per
 * entry: its per-change asserts are in `apply.ts`. The tests run these after every step, and the
 * engine process's conservation check (`conservationBreak`, engine/io/recovery.ts) is built on
 * `conservationGap` and `totalsOf`.
 */
import type { EngineState } from "./state.ts";

export interface Totals {
  balancesCents: bigint;
  lockedCents: bigint;
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
  return {
    balancesCents,
    lockedCents,
    houseCents: state.houseCents,
    creditedCents: state.creditedCents,
    minBalanceCents,
  };
}

/** balances + locked margin + house − credited: zero in every valid state. */
export function conservationGap(state: EngineState): bigint {
  const t = totalsOf(state);
  return t.balancesCents + t.lockedCents + t.houseCents - t.creditedCents;
}

/**
 * What exceeds a per-account cap or disagrees with its derived count, if anything. Holds while
 * the parameters stay as they were: a lowered cap (a `configure` entry) leaves accounts above it.
 */
export function limitBreach(state: EngineState): string | undefined {
  const { maxOpenPositions, maxIdempotencyKeys, closedOrdersKept } = state.params;
  let keys = 0;
  for (const account of state.accounts.values()) {
    if (account.openSeqs.size > maxOpenPositions) return `${account.userId}: too many positions`;
    if (account.idempotencyKeys.size > maxIdempotencyKeys) {
      return `${account.userId}: too many keys`;
    }
    if (account.closedSeqs.length >= 2 * closedOrdersKept) return `${account.userId}: closed`;
    keys += account.idempotencyKeys.size;
  }
  if (keys !== state.idempotency.size) return "per-account keys do not add up to the keys held";
  return undefined;
}
