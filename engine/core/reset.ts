/**
 * `reset`: the user's demo money back to the starting credit (docs/design.md §2, Reset). Only
 * an account that holds no open position and no pending order may be reset, so its balance is
 * all its money; the difference to the credit is booked against the credited total, which the
 * conservation check compares with (credited = every credit, net of resets).
 */
import type { ResetEntry } from "@trading/shared/schemas";
import { assertAccount, type Outcome } from "./book.ts";
import type { EngineState } from "./state.ts";

export function resetAccount(state: EngineState, entry: ResetEntry): Outcome {
  const account = state.accounts.get(entry.userId);
  if (account === undefined) return "account_not_found";
  if (account.openSeqs.size !== 0 || account.pendingSeqs.size !== 0) return "positions_open";
  const credit = state.params.demoCreditCents;
  state.creditedCents += credit - account.balanceCents;
  account.balanceCents = credit;
  assertAccount(account);
  return { event: "reset", balance: credit.toString() };
}
