/** Whole-state checks used by tests and by the engine's self-check after recovery. */
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
