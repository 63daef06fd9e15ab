/**
 * The state machine: one input entry in, its outputs out. Pure and deterministic: time is the
 * entry's stream ID, and every refusal is a result code, never an exception.
 */
import type {
  Answer,
  CloseEntry,
  CloseReason,
  CreateAccountEntry,
  EngineOutput,
  InputEntry,
  InstructionEntry,
  OpenEntry,
  PriceEntry,
  Result,
  TriggerEvent,
} from "@trading/shared/schemas";
import { isAsset } from "@trading/shared/assets";
import { OPEN_PAGE_DEFAULT } from "@trading/shared/schemas";
import { invariant, InvariantError, REFUSAL_MESSAGES, type RefusalCode } from "./codes.ts";
import { applyConfigure } from "./configure.ts";
import {
  type ClosedResult,
  closeView,
  exitPrice,
  liquidationPrice,
  makePosition,
  pnlCents,
  quantityFor,
  triggerReason,
} from "./positions.ts";
import type { Account, EngineQuote, EngineState, Position } from "./state.ts";
import {
  addPosition,
  closedRecently,
  idempotencyMapKey,
  rememberClosed,
  replayedAnswer,
  splitMapKey,
} from "./state.ts";
import { type ParsedId, readStreamId } from "./stream_id.ts";

const NO_OUTPUTS: readonly EngineOutput[] = Object.freeze([]);

/** Applies one validated entry. The returned array must not be mutated. */
export function apply(state: EngineState, entry: InputEntry, id: string): readonly EngineOutput[] {
  advanceTime(state, id);
  if (entry.kind === "price") return applyPrice(state, entry, id);
  pruneExpired(state);
  if (entry.kind === "configure") {
    state.params = applyConfigure(state.params, entry);
    return NO_OUTPUTS;
  }
  return [applyInstruction(state, entry, id)];
}

/**
 * Consumes a malformed entry: it still takes its place in the stream, and if it named a
 * request the sender gets a refusal instead of a timeout.
 */
export function applyInvalid(
  state: EngineState,
  id: string,
  reason: string,
  requestId: string | undefined,
  userId: string | undefined,
): readonly EngineOutput[] {
  advanceTime(state, id);
  if (requestId === undefined) return NO_OUTPUTS;
  return [{
    kind: "answer",
    cause: id,
    requestId,
    userId: userId ?? "",
    ok: false,
    code: "invalid_entry",
    message: reason,
  }];
}

/** Where advanceTime reads each entry's ID: one object, reused, so time costs no allocation. */
const nextId: ParsedId = { ms: 0, seq: 0 };

function advanceTime(state: EngineState, id: string): void {
  const follows = readStreamId(id, nextId) &&
    (nextId.ms > state.lastMs || (nextId.ms === state.lastMs && nextId.seq > state.lastSeqInMs));
  if (!follows) invariant(false, `entry ${id} does not follow ${state.lastId}`);
  state.lastId = id;
  state.lastMs = nextId.ms;
  state.lastSeqInMs = nextId.seq;
}

function applyPrice(state: EngineState, entry: PriceEntry, id: string): readonly EngineOutput[] {
  const asset = entry.asset;
  if (!isAsset(asset)) return NO_OUTPUTS;
  const quote = state.quotes.get(asset);
  if (quote === undefined) {
    state.quotes.set(asset, {
      bid: entry.bid,
      ask: entry.ask,
      atMs: state.lastMs,
      exchangeTsUs: entry.ts,
    });
  } else {
    quote.bid = entry.bid;
    quote.ask = entry.ask;
    quote.atMs = state.lastMs;
    quote.exchangeTsUs = entry.ts;
  }
  const triggered: number[] = [];
  state.triggers.get(asset)!.collect(entry.bid, entry.ask, state.isOpen, triggered);
  if (triggered.length === 0) return NO_OUTPUTS;
  // Several triggers from one quote close in creation order, whatever heap they came from.
  triggered.sort((a, b) => a - b);
  const outputs: EngineOutput[] = [];
  let previous = 0;
  for (const seq of triggered) {
    if (seq === previous) continue;
    previous = seq;
    const position = state.positions.get(seq)!;
    const reason = triggerReason(position, entry.bid, entry.ask);
    if (reason === null) {
      invariant(false, `position ${seq} was indexed past a level it does not trigger at`);
    }
    const result = closePosition(state, position, entry.bid, entry.ask, reason);
    const event: TriggerEvent = { kind: "event", cause: id, userId: position.userId, result };
    outputs.push(event);
  }
  return outputs;
}

/** What an instruction comes to: its result, or the code of its refusal. */
type Outcome = Result | RefusalCode;

function applyInstruction(
  state: EngineState,
  entry: InstructionEntry,
  id: string,
): Answer {
  const { requestId, userId } = entry;
  const keyed = entry.kind === "open" || entry.kind === "close" ? entry : undefined;
  const key = keyed?.idempotencyKey;
  const fingerprint = keyed?.fingerprint ?? "";
  const mapKey = key === undefined ? undefined : idempotencyMapKey(userId, key);
  if (mapKey !== undefined) {
    const first = state.idempotency.get(mapKey);
    if (first !== undefined) {
      // The same key for another request would otherwise silently answer the first one. A key
      // stored or sent without a fingerprint (before fingerprints existed) matches any.
      const known = first.fingerprint !== "" && fingerprint !== "";
      if (known && first.fingerprint !== fingerprint) {
        return refused(id, requestId, userId, "idempotency_key_reused");
      }
      return replayedAnswer(first, id, requestId, userId);
    }
  }
  const outcome = outcomeOf(state, entry);
  if (typeof outcome === "string") return refused(id, requestId, userId, outcome);
  // Only a change of state is remembered: a refusal is evaluated again on a retry.
  if (mapKey !== undefined) remember(state, mapKey, userId, fingerprint, outcome);
  return { kind: "answer", cause: id, requestId, userId, ok: true, result: outcome };
}

function outcomeOf(state: EngineState, entry: InstructionEntry): Outcome {
  switch (entry.kind) {
    case "create_account":
      return createAccount(state, entry);
    case "open":
      return openPosition(state, entry);
    case "close":
      return closeByUser(state, entry);
    case "query":
      return entry.scope === "open"
        ? openPositions(state, entry.userId, entry.limit, entry.cursor)
        : accountState(state, entry.userId);
    default: {
      const unknown: never = entry;
      throw new InvariantError(`unknown instruction ${JSON.stringify(unknown)}`);
    }
  }
}

function refused(id: string, requestId: string, userId: string, code: RefusalCode): Answer {
  return {
    kind: "answer",
    cause: id,
    requestId,
    userId,
    ok: false,
    code,
    message: REFUSAL_MESSAGES[code],
  };
}

/** Remembers a keyed answer; past the account's cap its oldest key is forgotten first. */
function remember(
  state: EngineState,
  mapKey: string,
  userId: string,
  fingerprint: string,
  result: Result,
): void {
  const keys = accountOf(state, userId).idempotencyKeys;
  while (keys.size >= state.params.maxIdempotencyKeys) {
    const oldest = keys.values().next().value!;
    keys.delete(oldest);
    state.idempotency.delete(oldest);
  }
  keys.add(mapKey);
  state.idempotency.set(mapKey, {
    atMs: state.lastMs,
    fingerprint,
    result: JSON.stringify(result),
  });
}

function createAccount(state: EngineState, entry: CreateAccountEntry): Outcome {
  const existing = state.accounts.get(entry.userId);
  if (existing !== undefined) {
    const balance = existing.balanceCents.toString();
    return { event: "account", balance, created: false };
  }
  const credit = state.params.demoCreditCents;
  const account: Account = {
    userId: entry.userId,
    balanceCents: credit,
    lockedCents: 0n,
    openSeqs: new Set(),
    idempotencyKeys: new Set(),
    closedSeqs: [],
  };
  state.accounts.set(entry.userId, account);
  assertAccount(account);
  state.creditedCents += credit;
  return { event: "account", balance: credit.toString(), created: true };
}

/** Balance, locked margin and equity (open positions valued at the latest exit quotes). */
function accountState(state: EngineState, userId: string): Outcome {
  const account = state.accounts.get(userId);
  if (account === undefined) return "account_not_found";
  let unrealizedCents = 0n;
  for (const seq of account.openSeqs) unrealizedCents += unrealizedPnl(state, seq);
  return {
    event: "account_state",
    balance: account.balanceCents.toString(),
    locked: account.lockedCents.toString(),
    equity: (account.balanceCents + account.lockedCents + unrealizedCents).toString(),
  };
}

/** Up to `limit` open positions after the order `cursor`, in creation order. */
function openPositions(
  state: EngineState,
  userId: string,
  limit = OPEN_PAGE_DEFAULT,
  cursor?: string,
): Outcome {
  const account = state.accounts.get(userId);
  if (account === undefined) return "account_not_found";
  const after = cursor === undefined ? 0 : Number(cursor);
  const positions = [];
  let more = false;
  for (const seq of account.openSeqs) {
    if (seq <= after) continue;
    if (positions.length === limit) {
      more = true;
      break;
    }
    const pnl = unrealizedPnl(state, seq);
    positions.push({ ...state.positions.get(seq)!.view, unrealizedPnl: pnl.toString() });
  }
  const nextCursor = more ? positions[positions.length - 1]!.orderId : null;
  return { event: "open_positions", positions, nextCursor };
}

function unrealizedPnl(state: EngineState, seq: number): bigint {
  const position = state.positions.get(seq)!;
  const quote = state.quotes.get(position.asset)!;
  return pnlCents(position, exitPrice(position.side, quote.bid, quote.ask));
}

/** The asset's quote if it may be traded on now, else the refusal. */
function tradableQuote(state: EngineState, asset: string): EngineQuote | RefusalCode {
  if (!isAsset(asset)) return "unknown_asset";
  const quote = state.quotes.get(asset);
  if (quote === undefined) return "no_price";
  if (state.lastMs - quote.atMs > state.params.priceMaxAgeMs) return "stale_price";
  return quote;
}

function openPosition(state: EngineState, entry: OpenEntry): Outcome {
  const account = state.accounts.get(entry.userId);
  if (account === undefined) return "account_not_found";
  if (account.openSeqs.size >= state.params.maxOpenPositions) return "too_many_positions";
  const quote = tradableQuote(state, entry.asset);
  if (typeof quote === "string") return quote;
  const asset = entry.asset as Position["asset"];
  const long = entry.side === "long";
  const fill = long ? quote.ask : quote.bid;
  const tolerance = 10_000n + (long ? 1n : -1n) * BigInt(entry.slippageBps);
  if (
    long
      ? fill * 10_000n > entry.expectedPrice * tolerance
      : fill * 10_000n < entry.expectedPrice * tolerance
  ) {
    return "slippage_exceeded";
  }
  const exit = exitPrice(entry.side, quote.bid, quote.ask);
  const { stopLoss, takeProfit } = entry;
  const badStop = stopLoss !== undefined && (long ? stopLoss >= exit : stopLoss <= exit);
  const badTake = takeProfit !== undefined && (long ? takeProfit <= exit : takeProfit >= exit);
  if (badStop || badTake) return "invalid_trigger";
  if (entry.marginCents > account.balanceCents) return "insufficient_balance";
  const quantity = quantityFor(asset, entry.marginCents, entry.leverage, fill);
  if (quantity === 0n) return "quantity_too_small";
  const position = makePosition({
    seq: state.nextOrderSeq++,
    userId: entry.userId,
    asset,
    side: entry.side,
    marginCents: entry.marginCents,
    leverage: entry.leverage,
    entryPrice: fill,
    quantity,
    liquidationPrice: liquidationPrice(
      asset,
      entry.side,
      fill,
      quantity,
      entry.marginCents,
      state.params.mmrBps,
    ),
    stopLoss,
    takeProfit,
    openedAtMs: state.lastMs,
  });
  account.balanceCents -= entry.marginCents;
  addPosition(state, account, position);
  assertAccount(account);
  return { event: "opened", ...position.view };
}

function closeByUser(state: EngineState, entry: CloseEntry): Outcome {
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
  return closePosition(state, position, quote.bid, quote.ask, "manual");
}

/** Settles a position at the quote: the owner gets max(0, margin + pnl), the house the rest. */
function closePosition(
  state: EngineState,
  position: Position,
  bid: bigint,
  ask: bigint,
  reason: CloseReason,
): ClosedResult {
  const account = accountOf(state, position.userId);
  const price = exitPrice(position.side, bid, ask);
  const pnl = pnlCents(position, price);
  const equity = position.marginCents + pnl;
  const payout = equity > 0n ? equity : 0n;
  account.balanceCents += payout;
  account.lockedCents -= position.marginCents;
  assertAccount(account);
  account.openSeqs.delete(position.seq);
  rememberClosed(account, position.seq, state.params.closedOrdersKept);
  state.houseCents += position.marginCents - payout;
  state.positions.delete(position.seq);
  state.triggers.get(position.asset)!.remove(position, state.isOpen);
  return closeView(position, price, pnl, account.balanceCents, state.lastMs, reason);
}

/** Forgets idempotency keys older than their retention, oldest first. */
function pruneExpired(state: EngineState): void {
  const idempotencyCutoff = state.lastMs - state.params.idempotencyTtlMs;
  for (const [key, stored] of state.idempotency) {
    if (stored.atMs > idempotencyCutoff) break;
    state.idempotency.delete(key);
    accountOf(state, splitMapKey(key)[0]).idempotencyKeys.delete(key);
  }
}

/** The account a change is about to touch, which must exist (an owner of keys or positions). */
function accountOf(state: EngineState, userId: string): Account {
  const account = state.accounts.get(userId);
  if (account === undefined) invariant(false, `${userId} has keys or positions but no account`);
  return account;
}

/** What holds after every change to an account's money: neither balance nor locked is negative. */
function assertAccount(account: Account): void {
  if (account.balanceCents < 0n || account.lockedCents < 0n) {
    invariant(
      false,
      `account ${account.userId}: balance ${account.balanceCents}, locked ${account.lockedCents}`,
    );
  }
}
