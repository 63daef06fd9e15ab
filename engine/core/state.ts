/**
 * The engine's whole state. Plain data plus derived indexes; `apply.ts` is the only writer of a
 * live state (`snapshot.ts` builds one from its encoding). Maps keep insertion order, and every
 * insertion follows the input stream, so iteration order is itself deterministic and the
 * canonical encoding needs no sorting.
 */
import type { Answer, OrderView } from "@trading/shared/schemas";
import type { Asset } from "@trading/shared/assets";
import { ASSET_SYMBOLS } from "@trading/shared/assets";
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
  /** Derived: sequence numbers of this account's open positions, in creation order. */
  openSeqs: Set<number>;
  /** Derived: this account's remembered idempotency map keys, oldest first. */
  idempotencyKeys: Set<string>;
  /**
   * Seqs of this account's closed orders in closing order; the last `closedOrdersKept` count.
   * Append-only: compaction makes a new array, so a snapshot's capture may hold the old one.
   */
  closedSeqs: number[];
}

export type Side = "long" | "short";

/** What a position is made of: fixed when it opens, never changed after. */
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
  stopLoss: bigint | undefined;
  takeProfit: bigint | undefined;
  openedAtMs: number;
}

/** An open position: its fields and what derives from them, complete once made (`makePosition`). */
export interface Position extends PositionFields {
  /** Derived: the position as clients see it, formatted once when the position is made. */
  readonly view: OrderView;
  /**
   * Derived cache: the position's canonical snapshot row, encoded by the first snapshot that
   * meets the position (positions never change), so opening one costs nothing extra.
   */
  row: string | undefined;
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
  /** Keyed by `${userId}\n${key}`; insertion order is time order (used to expire). */
  idempotency: Map<string, IdempotentAnswer>;
  /** Derived: per asset, the trigger indexes of its open positions. */
  triggers: Map<Asset, TriggerIndex>;
  /** Derived: whether an order is open (one closure, shared by the trigger indexes). */
  isOpen: (seq: number) => boolean;
}

export function createState(params: EngineParams = DEFAULT_PARAMS): EngineState {
  const positions = new Map<number, Position>();
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
    positions,
    idempotency: new Map(),
    triggers: new Map(ASSET_SYMBOLS.map((asset) => [asset, new TriggerIndex()])),
    isOpen: (seq) => positions.has(seq),
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
