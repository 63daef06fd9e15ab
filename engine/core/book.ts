/**
 * What every instruction of the core shares: the account a change touches (and the asserts that
 * hold after it), the quote an instruction may trade on, and the settlement of a close, full or
 * partial (docs/design.md §2).
 */
import type { CloseReason, Result } from "@trading/shared/schemas";
import { isAsset } from "@trading/shared/assets";
import { invariant, type RefusalCode } from "./codes.ts";
import {
  closeView,
  exitPrice,
  feeCents,
  liquidationPrice,
  makePosition,
  pnlCents,
  warningPrice,
} from "./positions.ts";
import type { Account, EngineQuote, EngineState, Position } from "./state.ts";
import { rememberClosed, replacePosition } from "./state.ts";

/** What an instruction comes to: its result, or the code of its refusal. */
export type Outcome = Result | RefusalCode;

export type ClosedResult = Extract<Result, { event: "closed" }>;
export type PartiallyClosedResult = Extract<Result, { event: "partially_closed" }>;

/** The least margin a partial close may leave open: the API's smallest margin. */
export const MIN_MARGIN_CENTS = 100n;

/** The account a change is about to touch, which must exist (an owner of keys or orders). */
export function accountOf(state: EngineState, userId: string): Account {
  const account = state.accounts.get(userId);
  if (account === undefined) invariant(false, `${userId} has keys or orders but no account`);
  return account;
}

/** What holds after every change to an account's money: no part of it is negative. */
export function assertAccount(account: Account): void {
  if (account.balanceCents < 0n || account.lockedCents < 0n || account.pendingCents < 0n) {
    invariant(
      false,
      `account ${account.userId}: balance ${account.balanceCents}, locked ` +
        `${account.lockedCents}, pending ${account.pendingCents}`,
    );
  }
}

/** The asset's quote if it may be traded on now, else the refusal. */
export function tradableQuote(state: EngineState, asset: string): EngineQuote | RefusalCode {
  if (!isAsset(asset)) return "unknown_asset";
  const quote = state.quotes.get(asset);
  if (quote === undefined) return "no_price";
  if (state.lastMs - quote.atMs > state.params.priceMaxAgeMs) return "stale_price";
  return quote;
}

export function unrealizedPnl(state: EngineState, position: Position): bigint {
  const quote = state.quotes.get(position.asset)!;
  return pnlCents(position, exitPrice(position.side, quote.bid, quote.ask));
}

/** Whether a stop-loss / take-profit pair is on its valid sides of `reference`. */
export function levelsValid(
  side: Position["side"],
  reference: bigint,
  stopLoss: bigint | undefined,
  takeProfit: bigint | undefined,
): boolean {
  const long = side === "long";
  const badStop = stopLoss !== undefined && (long ? stopLoss >= reference : stopLoss <= reference);
  const badTake = takeProfit !== undefined &&
    (long ? takeProfit <= reference : takeProfit >= reference);
  return !badStop && !badTake;
}

/**
 * Settles all of a position at the quote: the owner gets max(0, margin + pnl) less the fee
 * (never below 0), the house the rest. `closeId` is `<entry id>-<orderId>` (output.ts
 * `closeViewSchema`).
 */
export function closePosition(
  state: EngineState,
  position: Position,
  bid: bigint,
  ask: bigint,
  reason: CloseReason,
): ClosedResult {
  const account = accountOf(state, position.userId);
  const price = exitPrice(position.side, bid, ask);
  const pnl = pnlCents(position, price);
  const fee = feeCents(position.asset, price, position.quantity, state.params.feeBps);
  const charged = settle(state, account, position.marginCents, pnl, fee);
  account.openSeqs.delete(position.seq);
  rememberClosed(account, position.seq, state.params.closedOrdersKept);
  state.positions.delete(position.seq);
  state.triggers.get(position.asset)!.remove(position);
  const closeId = closeIdOf(state, position);
  const { marginCents } = position;
  const balance = account.balanceCents;
  return closeView(
    "closed",
    position,
    closeId,
    undefined,
    marginCents,
    price,
    pnl,
    charged,
    balance,
    state.lastMs,
    reason,
  );
}

/**
 * Settles `quantity` of a position (less than all of it) at the quote: the part releases
 * floor(margin × part / quantity) of margin and realises its own PnL, rounded as a full close;
 * the rest stays open under the same orderId with its liquidation price recomputed by the open
 * rule. Undefined when the rest would keep less than MIN_MARGIN_CENTS.
 */
export function closePart(
  state: EngineState,
  position: Position,
  quantity: bigint,
  bid: bigint,
  ask: bigint,
): PartiallyClosedResult | undefined {
  const releasedCents = position.marginCents * quantity / position.quantity;
  const remainingCents = position.marginCents - releasedCents;
  if (remainingCents < MIN_MARGIN_CENTS) return undefined;
  const account = accountOf(state, position.userId);
  const price = exitPrice(position.side, bid, ask);
  const pnl = pnlCents({ ...position, quantity }, price);
  const remainingQuantity = position.quantity - quantity;
  const levels = [
    position.asset,
    position.side,
    position.entryPrice,
    remainingQuantity,
    remainingCents,
    state.params.mmrBps,
  ] as const;
  // The margin call's level moves with the liquidation price; its armed or fired state stays,
  // and the next quote sets it right if the new level puts the quote on the other side.
  const rest = makePosition({
    ...position,
    marginCents: remainingCents,
    quantity: remainingQuantity,
    liquidationPrice: liquidationPrice(...levels),
    warningPrice: warningPrice(...levels),
  });
  replacePosition(state, account, position, rest);
  // replacePosition moved the released margin out of locked; settle pays it out.
  account.lockedCents += releasedCents;
  const fee = feeCents(position.asset, price, quantity, state.params.feeBps);
  const charged = settle(state, account, releasedCents, pnl, fee);
  const closed = closeView(
    "partially_closed",
    position,
    closeIdOf(state, position),
    quantity,
    releasedCents,
    price,
    pnl,
    charged,
    account.balanceCents,
    state.lastMs,
    "manual",
  );
  // Added last, where the spread put it: the answer's key order is unchanged.
  return Object.assign(closed, { remaining: rest.view });
}

/**
 * Margin leaves `locked`: max(0, margin + pnl) less the fee to the balance, the rest to the
 * house. The fee comes out of the payout and at most all of it (a liquidation pays at most what
 * it has left); returns the fee charged.
 */
function settle(
  state: EngineState,
  account: Account,
  marginCents: bigint,
  pnl: bigint,
  feeCents: bigint,
): bigint {
  const equity = marginCents + pnl;
  const payout = equity > 0n ? equity : 0n;
  const charged = feeCents < payout ? feeCents : payout;
  account.balanceCents += payout - charged;
  account.lockedCents -= marginCents;
  state.houseCents += marginCents - payout + charged;
  assertAccount(account);
  return charged;
}

function closeIdOf(state: EngineState, position: Position): string {
  return `${state.lastId}-${position.seq}`;
}
