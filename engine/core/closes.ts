/** Closes a user asks for: one position, all of it or a part, or all of them at once. */
import type { CloseAllEntry, CloseEntry } from "@trading/shared/schemas";
import { isAsset } from "@trading/shared/assets";
import {
  type ClosedResult,
  closePart,
  closePosition,
  type Outcome,
  tradableQuote,
} from "./book.ts";
import type { EngineQuote, EngineState } from "./state.ts";
import { closedRecently } from "./state.ts";

export function closeByUser(state: EngineState, entry: CloseEntry): Outcome {
  const seq = Number(entry.orderId);
  const position = state.positions.get(seq);
  if (position === undefined || position.userId !== entry.userId) {
    const account = state.accounts.get(entry.userId);
    const own = position === undefined && account !== undefined &&
      closedRecently(account, seq, state.params.closedOrdersKept);
    return own ? "order_closed" : "order_not_found";
  }
  const quote = tradableQuote(state, position.asset);
  if (typeof quote === "string") return quote;
  const part = entry.quantity ?? position.quantity;
  if (part === 0n || part > position.quantity) return "invalid_quantity";
  if (part === position.quantity) {
    return closePosition(state, position, quote.bid, quote.ask, "manual");
  }
  return closePart(state, position, part, quote.bid, quote.ask) ?? "invalid_quantity";
}

/**
 * Every open position of the user (of one asset when named), closed in order ID order at the
 * quotes of this one entry. All or nothing: if one asset it holds cannot be traded now (no or
 * a stale quote), nothing is closed and that is the refusal.
 */
export function closeAll(state: EngineState, entry: CloseAllEntry): Outcome {
  const account = state.accounts.get(entry.userId);
  if (account === undefined) return "account_not_found";
  if (entry.asset !== undefined && !isAsset(entry.asset)) return "unknown_asset";
  const seqs: number[] = [];
  for (const seq of account.openSeqs) {
    if (entry.asset === undefined || state.positions.get(seq)!.asset === entry.asset) {
      seqs.push(seq);
    }
  }
  seqs.sort((a, b) => a - b);
  const quotes = new Map<string, EngineQuote>();
  for (const seq of seqs) {
    const asset = state.positions.get(seq)!.asset;
    if (quotes.has(asset)) continue;
    const quote = tradableQuote(state, asset);
    if (typeof quote === "string") return quote;
    quotes.set(asset, quote);
  }
  const closed: ClosedResult[] = [];
  for (const seq of seqs) {
    const position = state.positions.get(seq)!;
    const quote = quotes.get(position.asset)!;
    closed.push(closePosition(state, position, quote.bid, quote.ask, "manual"));
  }
  return { event: "closed_all", closed, balance: account.balanceCents.toString() };
}
