/**
 * The state machine: one input entry in, its outputs out. Pure and deterministic: time is the
 * entry's stream ID, and every refusal is a result code, never an exception. What an entry
 * does, in order: pending orders whose expiry time it reaches expire; then a price entry fills
 * the pending orders it triggers, closes the positions it triggers and fires (or re-arms) the
 * margin calls it crosses, and an instruction does what it asks (orders.ts, closes.ts,
 * queries.ts, reset.ts). Every order event, and every answer that changed an account, carries
 * the account's figures right after it (`accountFigures`).
 */
import type {
  AccountFigures,
  Answer,
  CreateAccountEntry,
  EngineOutput,
  InputEntry,
  InstructionEntry,
  PriceEntry,
  Result,
  TriggerEvent,
} from "@trading/shared/schemas";
import { ASSETS, isAsset } from "@trading/shared/assets";
import { formatDecimal } from "@trading/shared/money";
import { accountOf, assertAccount, closePosition, type Outcome } from "./book.ts";
import { closeAll, closeByUser } from "./closes.ts";
import { invariant, InvariantError, REFUSAL_MESSAGES, type RefusalCode } from "./codes.ts";
import { applyConfigure } from "./configure.ts";
import { cancelOrder, endPending, fillPending, modifyOrder, openOrder } from "./orders.ts";
import { exitPrice, makePosition, triggerReason } from "./positions.ts";
import {
  accountFigures,
  accountState,
  openPositions,
  ordersHistory,
  pendingOrders,
} from "./queries.ts";
import { resetAccount } from "./reset.ts";
import type { EngineState, Position } from "./state.ts";
import {
  idempotencyMapKey,
  MAX_REMEMBERED_CHARS,
  newAccount,
  replacePosition,
  replayedAnswer,
  splitMapKey,
} from "./state.ts";
import { type ParsedId, readStreamId } from "./stream_id.ts";
import { warningLevel } from "./triggers.ts";

const NO_OUTPUTS: readonly EngineOutput[] = Object.freeze([]);

/** Applies one validated entry. The returned array must not be mutated. */
export function apply(state: EngineState, entry: InputEntry, id: string): readonly EngineOutput[] {
  const outputs = applyEntry(state, entry, id);
  if (outputs.length !== 0) attachFigures(state, outputs);
  return outputs;
}

/**
 * Every order event of an entry carries its account's figures after the entry: worked out once
 * per account and entry (one PnL per open position of it), however many events the entry gave
 * the account (a closeAll of 200 positions, a quote liquidating all of them).
 */
function attachFigures(state: EngineState, outputs: readonly EngineOutput[]): void {
  let figuresOf: Map<string, AccountFigures> | undefined;
  for (const output of outputs) {
    if (output.kind !== "event") continue;
    figuresOf ??= new Map();
    let figures = figuresOf.get(output.userId);
    if (figures === undefined) {
      figures = accountFigures(state, accountOf(state, output.userId));
      figuresOf.set(output.userId, figures);
    }
    output.account = figures;
  }
}

function applyEntry(state: EngineState, entry: InputEntry, id: string): readonly EngineOutput[] {
  advanceTime(state, id);
  // Expiry is by stream time and checked on every entry, so a replay expires what the live
  // engine did, where it did; an order expiring at this entry's time never fills at it.
  const expired = state.lastMs >= state.expiries.dueMs ? expireDue(state, id) : NO_OUTPUTS;
  if (entry.kind === "price") return applyPrice(state, entry, id, expired);
  pruneExpired(state);
  if (entry.kind === "configure") {
    state.params = applyConfigure(state.params, entry);
    return expired;
  }
  const answer = applyInstruction(state, entry, id);
  return expired.length === 0 ? [answer] : [...expired, answer];
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
  const expired = state.lastMs >= state.expiries.dueMs ? expireDue(state, id) : NO_OUTPUTS;
  if (expired.length !== 0) attachFigures(state, expired);
  if (requestId === undefined) return expired;
  return [...expired, {
    kind: "answer",
    cause: id,
    requestId,
    userId: userId ?? "",
    ok: false,
    code: "invalid_entry",
    message: reason,
  }];
}

/** The pending orders whose expiry time the current entry reached, in creation order. */
function expireDue(state: EngineState, id: string): EngineOutput[] {
  const due: number[] = [];
  state.expiries.collect(state.lastMs, due);
  due.sort((a, b) => a - b);
  const outputs: EngineOutput[] = [];
  for (const seq of due) {
    const order = state.pending.get(seq)!;
    const result = endPending(state, accountOf(state, order.userId), order, "expired");
    outputs.push(eventOf(id, order.userId, result));
  }
  return outputs;
}

/** An order event of the user's; its account's figures are added once the entry is applied. */
function eventOf(
  cause: string,
  userId: string,
  result: TriggerEvent["result"],
): TriggerEvent {
  return { kind: "event", cause, userId, result };
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

function applyPrice(
  state: EngineState,
  entry: PriceEntry,
  id: string,
  expired: readonly EngineOutput[],
): readonly EngineOutput[] {
  const asset = entry.asset;
  if (!isAsset(asset)) return expired;
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
  // Pending orders fill first, so a position they become meets this quote's triggers too. With
  // none waiting anywhere (the usual book), a quote costs no lookup of their index at all.
  let outputs: EngineOutput[] | undefined;
  if (state.pending.size !== 0) {
    const pendingIndex = state.pendingTriggers.get(asset)!;
    if (pendingIndex.size !== 0) {
      const filled: number[] = [];
      pendingIndex.collect(entry.bid, entry.ask, filled);
      if (filled.length !== 0) outputs = fillTriggered(state, filled, entry, id, [...expired]);
    }
  }
  const index = state.triggers.get(asset)!;
  const triggered: number[] = [];
  index.collect(entry.bid, entry.ask, triggered);
  const warned: number[] = [];
  index.collectWarnings(entry.bid, entry.ask, warned);
  if (triggered.length === 0 && warned.length === 0) return outputs ?? expired;
  outputs ??= [...expired];
  closeTriggered(state, triggered, entry, id, outputs);
  // After the closes: a position this quote closed gets no margin call.
  if (warned.length !== 0) marginCalls(state, warned, entry, id, outputs);
  return outputs;
}

/** Closes the triggered positions in creation order, at the quote. */
function closeTriggered(
  state: EngineState,
  triggered: number[],
  entry: PriceEntry,
  id: string,
  outputs: EngineOutput[],
): void {
  // Several triggers from one quote close in creation order, whatever heap they came from.
  triggered.sort((a, b) => a - b);
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
    outputs.push(eventOf(id, position.userId, result));
  }
}

/**
 * Flips the margin call state of the positions whose warning level the quote crossed, in
 * creation order: an armed one fires (one `margin_call` event), a called one re-arms (none).
 * Each is replaced by a position with the other state, as a modify replaces one.
 */
function marginCalls(
  state: EngineState,
  warned: number[],
  entry: PriceEntry,
  id: string,
  outputs: EngineOutput[],
): void {
  warned.sort((a, b) => a - b);
  let previous = 0;
  for (const seq of warned) {
    if (seq === previous) continue;
    previous = seq;
    const position = state.positions.get(seq);
    // A position closed by this very quote was collected while live: it is gone now.
    if (position === undefined || !position.ticket.live) continue;
    const [level, falling] = warningLevel(position);
    const price = exitPrice(position.side, entry.bid, entry.ask);
    if (falling ? price > level : price < level) {
      invariant(false, `position ${seq} was indexed past a warning level it does not cross`);
    }
    const next = makePosition({ ...position, marginCalled: !position.marginCalled });
    replacePosition(state, accountOf(state, position.userId), position, next);
    if (next.marginCalled) outputs.push(eventOf(id, position.userId, marginCall(next)));
  }
}

function marginCall(position: Position): TriggerEvent["result"] {
  const decimals = ASSETS[position.asset].priceDecimals;
  return {
    event: "margin_call",
    orderId: String(position.seq),
    asset: position.asset,
    type: position.side,
    liquidationPrice: formatDecimal(position.liquidationPrice, decimals),
    warningPrice: formatDecimal(position.warningPrice, decimals),
  };
}

/** Fills the triggered pending orders in creation order, at the quote. */
function fillTriggered(
  state: EngineState,
  filled: number[],
  entry: PriceEntry,
  id: string,
  outputs: EngineOutput[],
): EngineOutput[] {
  filled.sort((a, b) => a - b);
  for (const seq of filled) {
    const order = state.pending.get(seq)!;
    const result = fillPending(state, order, entry.bid, entry.ask);
    outputs.push(eventOf(id, order.userId, result));
  }
  return outputs;
}

function applyInstruction(
  state: EngineState,
  entry: InstructionEntry,
  id: string,
): Answer {
  const { requestId, userId } = entry;
  const keyed = entry.kind === "create_account" || entry.kind === "query" ? undefined : entry;
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
  const answer: Answer = {
    kind: "answer",
    cause: id,
    requestId,
    userId,
    ok: true,
    result: outcome,
  };
  // The figures its order events carry (engine/io/routing.ts); not remembered with the key.
  if (CHANGES.has(outcome.event)) answer.account = accountFigures(state, accountOf(state, userId));
  return answer;
}

/** The results that changed an account (or its orders): each stands for order events. */
const CHANGES: ReadonlySet<string> = new Set([
  "opened",
  "placed",
  "closed",
  "partially_closed",
  "cancelled",
  "modified",
  "closed_all",
  "reset",
]);

function outcomeOf(state: EngineState, entry: InstructionEntry): Outcome {
  switch (entry.kind) {
    case "create_account":
      return createAccount(state, entry);
    case "open":
      return openOrder(state, entry);
    case "close":
      return closeByUser(state, entry);
    case "cancel":
      return cancelOrder(state, entry);
    case "modify":
      return modifyOrder(state, entry);
    case "close_all":
      return closeAll(state, entry);
    case "reset":
      return resetAccount(state, entry);
    case "query":
      switch (entry.scope) {
        case "open":
          return openPositions(state, entry.userId, entry.limit, entry.cursor);
        case "pending":
          return pendingOrders(state, entry.userId, entry.limit, entry.cursor);
        case "orders_history":
          return ordersHistory(state, entry.userId, entry.limit, entry.cursor);
        default:
          return accountState(state, entry.userId);
      }
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
  const account = accountOf(state, userId);
  const keys = account.idempotencyKeys;
  const text = JSON.stringify(result);
  while (
    keys.size >= state.params.maxIdempotencyKeys ||
    (keys.size > 0 && account.idempotencyChars + text.length > MAX_REMEMBERED_CHARS)
  ) {
    const oldest = keys.values().next().value!;
    keys.delete(oldest);
    account.idempotencyChars -= state.idempotency.get(oldest)!.result.length;
    state.idempotency.delete(oldest);
  }
  keys.add(mapKey);
  account.idempotencyChars += text.length;
  state.idempotency.set(mapKey, { atMs: state.lastMs, fingerprint, result: text });
}

function createAccount(state: EngineState, entry: CreateAccountEntry): Outcome {
  const existing = state.accounts.get(entry.userId);
  if (existing !== undefined) {
    const balance = existing.balanceCents.toString();
    return { event: "account", balance, created: false };
  }
  const credit = state.params.demoCreditCents;
  const account = newAccount(entry.userId, credit);
  state.accounts.set(entry.userId, account);
  assertAccount(account);
  state.creditedCents += credit;
  return { event: "account", balance: credit.toString(), created: true };
}

/** Forgets idempotency keys older than their retention, oldest first. */
function pruneExpired(state: EngineState): void {
  const idempotencyCutoff = state.lastMs - state.params.idempotencyTtlMs;
  for (const [key, stored] of state.idempotency) {
    if (stored.atMs > idempotencyCutoff) break;
    state.idempotency.delete(key);
    const account = accountOf(state, splitMapKey(key)[0]);
    account.idempotencyKeys.delete(key);
    account.idempotencyChars -= stored.result.length;
  }
}
