/**
 * The engine's whole state. Plain data plus derived indexes; `apply.ts` is the only writer of a
 * live state (`snapshot.ts` builds one from its encoding). Maps keep insertion order, and every
 * insertion follows the input stream, so iteration order is itself deterministic and the
 * canonical encoding needs no sorting.
 */
import type { Answer, EndedStatus, OrderView, PendingView } from "@trading/shared/schemas";
import type { Asset } from "@trading/shared/assets";
import { ASSET_SYMBOLS } from "@trading/shared/assets";
import type { Ticket } from "./heap.ts";
import { ExpiryQueue, PendingIndex } from "./pending_index.ts";
import { TriggerIndex } from "./triggers.ts";

export interface EngineParams {
  /** Maintenance margin rate in basis points of the entry notional. */
  mmrBps: number;
  /** An instruction is refused when the asset's quote is older than this, in stream time. */
  priceMaxAgeMs: number;
  /** How long an (user, Idempotency-Key) pair returns its first answer, in stream time. */
  idempotencyTtlMs: number;
  /** How many of an account's latest closed orders it remembers (for `order_closed`). */
  closedOrdersKept: number;
  /** The one-time demo credit of a new account. */
  demoCreditCents: bigint;
  /** Open positions an account may hold at once (`too_many_positions` beyond). */
  maxOpenPositions: number;
  /** Pending orders an account may hold at once (`too_many_orders` beyond). */
  maxPendingOrders: number;
  /** Idempotency keys remembered per account; the oldest is forgotten first. */
  maxIdempotencyKeys: number;
  /** How many of an account's latest ended pending orders it remembers (`orders_history`). */
  endedOrdersKept: number;
  /** Commission in basis points of the notional traded, at each open, fill and close. */
  feeBps: number;
}

export const DEFAULT_PARAMS: EngineParams = {
  mmrBps: 50,
  priceMaxAgeMs: 5_000,
  idempotencyTtlMs: 24 * 60 * 60 * 1000,
  closedOrdersKept: 1_000,
  demoCreditCents: 500_000n,
  maxOpenPositions: 200,
  maxPendingOrders: 50,
  maxIdempotencyKeys: 1_000,
  endedOrdersKept: 200,
  feeBps: 0,
};

/** The engine's quote of an asset: integer prices at the asset's scale, with stream time. */
export interface EngineQuote {
  bid: bigint;
  ask: bigint;
  /** Stream time (ms) of the entry that brought the quote. */
  atMs: number;
  /** Exchange time of the quote in microseconds, as the feed sent it. */
  exchangeTsUs: bigint;
}

export interface Account {
  userId: string;
  balanceCents: bigint;
  /** Derived: sum of the margins of this account's open positions. */
  lockedCents: bigint;
  /** Derived: sum of what this account's pending orders reserve (margin and fee reserve). */
  pendingCents: bigint;
  /** Derived: seqs of this account's open positions, in the order they opened (or filled). */
  openSeqs: Set<number>;
  /**
   * Derived: seqs of this account's pending orders, in creation order. `NO_PENDING` (shared)
   * until the account's first order: most accounts never place one.
   */
  pendingSeqs: ReadonlySet<number>;
  /** Derived: this account's remembered idempotency map keys, oldest first. */
  idempotencyKeys: Set<string>;
  /** Derived: the length of the results those keys remember, in all (`MAX_REMEMBERED_CHARS`). */
  idempotencyChars: number;
  /**
   * Seqs of this account's closed orders in closing order; the last `closedOrdersKept` count.
   * Append-only: compaction makes a new array, so a snapshot's capture may hold the old one.
   */
  closedSeqs: number[];
  /**
   * This account's ended pending orders in ending order; the last `endedOrdersKept` count.
   * Append-only like `closedSeqs`; `NO_ENDED` (shared) until the first.
   */
  endedOrders: readonly EndedOrder[];
}

export type Side = "long" | "short";

/**
 * What a position is made of. A position object never changes: a modify or a partial close
 * replaces it with a new one under the same seq (so a snapshot's capture keeps what it took).
 */
export interface PositionFields {
  seq: number;
  userId: string;
  asset: Asset;
  side: Side;
  marginCents: bigint;
  leverage: number;
  /** Price units of the asset (10^-priceDecimals USD). */
  entryPrice: bigint;
  /** Units of 10^-8 of the asset. */
  quantity: bigint;
  liquidationPrice: bigint;
  /** The margin call's level: the liquidation rule with twice the maintenance (fixed at open). */
  warningPrice: bigint;
  /**
   * Whether the exit quote is past `warningPrice` since the last margin call: no other call
   * until a quote moves back (which re-arms it). Part of the state and of every snapshot.
   */
  marginCalled: boolean;
  stopLoss: bigint | undefined;
  takeProfit: bigint | undefined;
  openedAtMs: number;
}

/** An open position: its fields and what derives from them, complete once made (`makePosition`). */
export interface Position extends PositionFields {
  /** Derived: the position as clients see it, formatted once when the position is made. */
  readonly view: OrderView;
  /** Derived: its entries in the trigger indexes stand while this is live. */
  readonly ticket: Ticket;
  /**
   * Derived cache: the position's canonical snapshot row, encoded by the first snapshot that
   * meets the position (positions never change), so opening one costs nothing extra.
   */
  row: string | undefined;
}

/** A limit or stop order waiting for its trigger price; replaced, never changed, as positions. */
export interface PendingFields {
  seq: number;
  userId: string;
  asset: Asset;
  side: Side;
  orderType: "limit" | "stop";
  /** Reserved: out of the balance, in the account's `pendingCents`. */
  marginCents: bigint;
  /**
   * Reserved with the margin for the opening fee, the most it can be (`maxOpenFeeCents`): the
   * fill charges the fee and returns the rest; a cancel or expiry returns all of it.
   */
  feeReserveCents: bigint;
  leverage: number;
  triggerPrice: bigint;
  stopLoss: bigint | undefined;
  takeProfit: bigint | undefined;
  /** Stream time at which it expires if still waiting. */
  expiresAtMs: number | undefined;
  createdAtMs: number;
}

export interface PendingOrder extends PendingFields {
  readonly view: PendingView;
  /** Derived: its entries in the pending and expiry indexes stand while this is live. */
  readonly ticket: Ticket;
  /** Derived cache: its canonical snapshot row, as `Position.row`. */
  row: string | undefined;
}

/** A pending order that stopped waiting, remembered for `orders_history` and refusals. */
export interface EndedOrder {
  readonly order: PendingOrder;
  readonly status: EndedStatus;
  readonly endedAtMs: number;
}

/**
 * What a state-changing keyed request got, returned again on a repeat with the same
 * fingerprint. Only state changes are remembered, so it is always a result; its user and key
 * are in the map key. One short string per key is what bounds the engine's memory per account
 * (docs/design.md, "What the engine holds").
 */
export interface IdempotentAnswer {
  atMs: number;
  fingerprint: string;
  /** JSON of the result, parsed back on the rare repeat. */
  result: string;
}

/** The answer a repeat gets: the first result, under the repeat's own request and cause. */
export function replayedAnswer(
  stored: IdempotentAnswer,
  cause: string,
  requestId: string,
  userId: string,
): Answer {
  const result = JSON.parse(stored.result) as Extract<Answer, { ok: true }>["result"];
  return { kind: "answer", cause, requestId, userId, ok: true, result, replayed: true };
}

export interface EngineState {
  params: EngineParams;
  /** ID of the last input entry applied ("0-0" before any). */
  lastId: string;
  lastMs: number;
  lastSeqInMs: number;
  nextOrderSeq: number;
  /** The counterparty of every position: gains what users lose, pays what they win. */
  houseCents: bigint;
  /** Sum of every demo credit ever made: the conservation invariant's total. */
  creditedCents: bigint;
  quotes: Map<Asset, EngineQuote>;
  accounts: Map<string, Account>;
  positions: Map<number, Position>;
  /** Waiting limit and stop orders, in creation order. */
  pending: Map<number, PendingOrder>;
  /** Keyed by `${userId}\n${key}`; insertion order is time order (used to expire). */
  idempotency: Map<string, IdempotentAnswer>;
  /** Derived: per asset, the trigger indexes of its open positions. */
  triggers: Map<Asset, TriggerIndex>;
  /** Derived: per asset, the trigger indexes of its pending orders. */
  pendingTriggers: Map<Asset, PendingIndex>;
  /** Derived: the pending orders' expiry times. */
  expiries: ExpiryQueue;
}

export function createState(params: EngineParams = DEFAULT_PARAMS): EngineState {
  return {
    params: { ...params },
    lastId: "0-0",
    lastMs: 0,
    lastSeqInMs: 0,
    nextOrderSeq: 1,
    houseCents: 0n,
    creditedCents: 0n,
    quotes: new Map(),
    accounts: new Map(),
    positions: new Map(),
    pending: new Map(),
    idempotency: new Map(),
    triggers: new Map(ASSET_SYMBOLS.map((asset) => [asset, new TriggerIndex()])),
    pendingTriggers: new Map(ASSET_SYMBOLS.map((asset) => [asset, new PendingIndex()])),
    expiries: new ExpiryQueue(),
  };
}

/**
 * What an account holds of pending and ended orders until its first: one empty set and array
 * for all of them, so an account that never places an order costs no more memory than before
 * orders existed (with 100k accounts, a set and an array each was ~10 MB more for the garbage
 * collector to mark, which a snapshot encode felt). Only `addPending`, `rememberEnded` and
 * snapshot decoding replace them; nothing writes to them (`NO_ENDED` is frozen).
 */
export const NO_PENDING: ReadonlySet<number> = new Set();
export const NO_ENDED: readonly EndedOrder[] = Object.freeze([]);

/** A new account's record: its credit, and nothing else yet. */
/**
 * The most answer text one account's idempotency keys remember (besides `maxIdempotencyKeys`):
 * past it the oldest keys are forgotten first. A key costs ~600 B, but a closeAll's answer holds
 * every close it made (~370 B each): 1,000 of those would be ~75 MB for one account. A single
 * answer larger than this is still remembered, alone.
 */
export const MAX_REMEMBERED_CHARS = 512 * 1024;

export function newAccount(userId: string, balanceCents: bigint): Account {
  return {
    userId,
    balanceCents,
    lockedCents: 0n,
    pendingCents: 0n,
    openSeqs: new Set(),
    pendingSeqs: NO_PENDING,
    idempotencyKeys: new Set(),
    idempotencyChars: 0,
    closedSeqs: [],
    endedOrders: NO_ENDED,
  };
}

export function idempotencyMapKey(userId: string, key: string): string {
  return `${userId}\n${key}`;
}

/** [userId, key] of a map key (neither may hold a newline). */
export function splitMapKey(mapKey: string): [string, string] {
  const at = mapKey.indexOf("\n");
  return [mapKey.slice(0, at), mapKey.slice(at + 1)];
}

/** Books a complete open position into the state and its derived indexes. */
export function addPosition(state: EngineState, account: Account, position: Position): void {
  account.lockedCents += position.marginCents;
  account.openSeqs.add(position.seq);
  state.positions.set(position.seq, position);
  state.triggers.get(position.asset)!.add(position);
}

/**
 * Puts `next` where `current` was (same seq, same place in every order) and moves its trigger
 * entries; the margin difference moves in or out of the account's locked margin.
 */
export function replacePosition(
  state: EngineState,
  account: Account,
  current: Position,
  next: Position,
): void {
  account.lockedCents += next.marginCents - current.marginCents;
  const index = state.triggers.get(current.asset)!;
  index.remove(current);
  state.positions.set(next.seq, next);
  index.add(next);
}

/** Books a complete pending order into the state and its derived indexes. */
export function addPending(state: EngineState, account: Account, order: PendingOrder): void {
  account.pendingCents += reservedCents(order);
  ownPendingSeqs(account).add(order.seq);
  state.pending.set(order.seq, order);
  state.pendingTriggers.get(order.asset)!.add(order);
  state.expiries.add(order);
}

/** Takes a pending order out of the book and its indexes; its margin leaves `pendingCents`. */
export function removePending(state: EngineState, account: Account, order: PendingOrder): void {
  account.pendingCents -= reservedCents(order);
  ownPendingSeqs(account).delete(order.seq);
  state.pending.delete(order.seq);
  state.pendingTriggers.get(order.asset)!.remove(order);
  state.expiries.remove(order);
}

/** What a pending order holds out of the balance: its margin and its fee reserve. */
export function reservedCents(order: PendingFields): bigint {
  return order.marginCents + order.feeReserveCents;
}

/** The account's own set of pending seqs, made on its first order. */
function ownPendingSeqs(account: Account): Set<number> {
  if (account.pendingSeqs === NO_PENDING) account.pendingSeqs = new Set();
  return account.pendingSeqs as Set<number>;
}

/** Puts `next` where `current` was, as `replacePosition` (levels only: same margin). */
export function replacePending(state: EngineState, current: PendingOrder, next: PendingOrder) {
  const index = state.pendingTriggers.get(current.asset)!;
  index.remove(current);
  state.expiries.remove(current);
  state.pending.set(next.seq, next);
  index.add(next);
  state.expiries.add(next);
}

/** Remembers an ended pending order of the account, keeping the latest `kept` (amortised O(1)). */
export function rememberEnded(account: Account, ended: EndedOrder, kept: number): void {
  if (account.endedOrders === NO_ENDED) {
    account.endedOrders = [ended];
    return;
  }
  const orders = account.endedOrders as EndedOrder[];
  orders.push(ended);
  if (orders.length >= 2 * kept) account.endedOrders = orders.slice(-kept);
}

/** The account's remembered ended order `seq`, if among its latest `kept`. */
export function endedRecently(account: Account, seq: number, kept: number): EndedOrder | undefined {
  const ended = account.endedOrders;
  for (let i = Math.max(0, ended.length - kept); i < ended.length; i++) {
    if (ended[i]!.order.seq === seq) return ended[i];
  }
  return undefined;
}

/** Remembers a closed order of the account, keeping the latest `kept` (amortised O(1)). */
export function rememberClosed(account: Account, seq: number, kept: number): void {
  account.closedSeqs.push(seq);
  // A new array, never a shortened one: a snapshot being written may still read the old.
  if (account.closedSeqs.length >= 2 * kept) account.closedSeqs = account.closedSeqs.slice(-kept);
}

/** Whether `seq` is among the account's latest `kept` closed orders. */
export function closedRecently(account: Account, seq: number, kept: number): boolean {
  const seqs = account.closedSeqs;
  for (let i = Math.max(0, seqs.length - kept); i < seqs.length; i++) {
    if (seqs[i] === seq) return true;
  }
  return false;
}
