/**
 * The engine's whole state. Plain data plus derived indexes; `apply.ts` is the only writer.
 * Maps keep insertion order, and every insertion follows the input stream, so iteration order
 * is itself deterministic and the canonical encoding needs no sorting.
 */
import type { Answer, Asset } from "@trading/shared";
import { ASSET_SYMBOLS } from "@trading/shared";
import { TriggerIndex } from "./triggers.ts";

export interface EngineParams {
  /** Maintenance margin rate in basis points of the entry notional. */
  mmrBps: number;
  /** An instruction is refused when the asset's quote is older than this, in stream time. */
  priceMaxAgeMs: number;
  /** How long an (user, Idempotency-Key) pair returns its first answer, in stream time. */
  idempotencyTtlMs: number;
  /** How long a closed order is remembered to answer `order_closed`, in stream time. */
  closedRetentionMs: number;
  /** The one-time demo credit of a new account. */
  demoCreditCents: bigint;
}

export const DEFAULT_PARAMS: EngineParams = {
  mmrBps: 50,
  priceMaxAgeMs: 5_000,
  idempotencyTtlMs: 24 * 60 * 60 * 1000,
  closedRetentionMs: 24 * 60 * 60 * 1000,
  demoCreditCents: 500_000n,
};

export interface Quote {
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
}

export type Side = "long" | "short";

export interface Position {
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

/** The first answer to an (user, Idempotency-Key), returned again on a repeat. */
export interface IdempotentAnswer {
  userId: string;
  key: string;
  atMs: number;
  answer: StoredAnswer;
}

/** An answer without its addressing (requestId, cause), which belong to each request. */
export type StoredAnswer = DistributiveOmit<Answer, "requestId" | "cause" | "replayed">;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface ClosedOrder {
  userId: string;
  closedAtMs: number;
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
  quotes: Map<Asset, Quote>;
  accounts: Map<string, Account>;
  positions: Map<number, Position>;
  /** Keyed by `${userId}\n${key}`; insertion order is time order (used to expire). */
  idempotency: Map<string, IdempotentAnswer>;
  /** Keyed by order sequence; insertion order is time order (used to expire). */
  closed: Map<number, ClosedOrder>;
  /** Derived: per asset, the trigger indexes of its open positions. */
  triggers: Map<Asset, TriggerIndex>;
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
    idempotency: new Map(),
    closed: new Map(),
    triggers: new Map(ASSET_SYMBOLS.map((asset) => [asset, new TriggerIndex()])),
  };
}

export function idempotencyMapKey(userId: string, key: string): string {
  return `${userId}\n${key}`;
}
