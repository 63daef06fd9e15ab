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
  OpenEntry,
  PriceEntry,
  Result,
  TriggerEvent,
} from "@trading/shared";
import { isAsset } from "@trading/shared";
import { invariant, REFUSAL_MESSAGES, type RefusalCode } from "./codes.ts";
import {
  closeView,
  exitPrice,
  liquidationPrice,
  orderView,
  pnlCents,
  quantityFor,
  triggerReason,
} from "./positions.ts";
import type { Account, EngineState, Position, Quote, StoredAnswer } from "./state.ts";
import { idempotencyMapKey } from "./state.ts";

const NO_OUTPUTS: readonly EngineOutput[] = Object.freeze([]);

/** Applies one validated entry. The returned array must not be mutated. */
export function apply(state: EngineState, entry: InputEntry, id: string): readonly EngineOutput[] {
  advanceTime(state, id);
  if (entry.kind === "price") return applyPrice(state, entry, id);
  pruneExpired(state);
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

function advanceTime(state: EngineState, id: string): void {
  const dash = id.indexOf("-");
  const ms = Number(id.slice(0, dash));
  const seq = Number(id.slice(dash + 1));
  invariant(
    dash > 0 && Number.isSafeInteger(ms) && Number.isSafeInteger(seq) &&
      (ms > state.lastMs || (ms === state.lastMs && seq > state.lastSeqInMs)),
    `entry ${id} does not follow ${state.lastId}`,
  );
  state.lastId = id;
  state.lastMs = ms;
  state.lastSeqInMs = seq;
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
  state.triggers.get(asset)!.collect(entry.bid, entry.ask, isOpenIn(state), triggered);
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
    invariant(reason !== null, `position ${seq} was indexed past a level it does not trigger at`);
    const result = closePosition(state, position, entry.bid, entry.ask, reason);
    const event: TriggerEvent = { kind: "event", cause: id, userId: position.userId, result };
    outputs.push(event);
  }
  return outputs;
}

function isOpenIn(state: EngineState): (seq: number) => boolean {
  return (seq) => state.positions.has(seq);
}

type Outcome = { ok: true; result: Result } | { ok: false; code: RefusalCode; message?: string };

function applyInstruction(
  state: EngineState,
  entry: CreateAccountEntry | OpenEntry | CloseEntry,
  id: string,
): Answer {
  const address = { kind: "answer" as const, cause: id, requestId: entry.requestId };
  const idempotencyKey = entry.kind === "create_account" ? undefined : entry.idempotencyKey;
  const mapKey = idempotencyKey === undefined
    ? undefined
    : idempotencyMapKey(entry.userId, idempotencyKey);
  if (mapKey !== undefined) {
    const first = state.idempotency.get(mapKey);
    if (first !== undefined) return { ...first.answer, ...address, replayed: true } as Answer;
  }
  const outcome = entry.kind === "create_account"
    ? createAccount(state, entry)
    : entry.kind === "open"
    ? openPosition(state, entry)
    : closeByUser(state, entry);
  const stored: StoredAnswer = outcome.ok
    ? { kind: "answer", userId: entry.userId, ok: true, result: outcome.result }
    : {
      kind: "answer",
      userId: entry.userId,
      ok: false,
      code: outcome.code,
      message: outcome.message ?? REFUSAL_MESSAGES[outcome.code],
    };
  if (mapKey !== undefined) {
    state.idempotency.set(mapKey, {
      userId: entry.userId,
      key: idempotencyKey!,
      atMs: state.lastMs,
      answer: stored,
    });
  }
  return { ...stored, ...address } as Answer;
}

function createAccount(state: EngineState, entry: CreateAccountEntry): Outcome {
  const existing = state.accounts.get(entry.userId);
  if (existing !== undefined) {
    const balance = existing.balanceCents.toString();
    return { ok: true, result: { event: "account", balance, created: false } };
  }
  const credit = state.params.demoCreditCents;
  state.accounts.set(entry.userId, {
    userId: entry.userId,
    balanceCents: credit,
    lockedCents: 0n,
    openSeqs: new Set(),
  });
  state.creditedCents += credit;
  return { ok: true, result: { event: "account", balance: credit.toString(), created: true } };
}

/** The asset's quote if it may be traded on now, else the refusal. */
function tradableQuote(state: EngineState, asset: string): Quote | RefusalCode {
  if (!isAsset(asset)) return "unknown_asset";
  const quote = state.quotes.get(asset);
  if (quote === undefined) return "no_price";
  if (state.lastMs - quote.atMs > state.params.priceMaxAgeMs) return "stale_price";
  return quote;
}

function openPosition(state: EngineState, entry: OpenEntry): Outcome {
  const account = state.accounts.get(entry.userId);
  if (account === undefined) return { ok: false, code: "account_not_found" };
  const quote = tradableQuote(state, entry.asset);
  if (typeof quote === "string") return { ok: false, code: quote };
  const asset = entry.asset as Position["asset"];
  const long = entry.side === "long";
  const fill = long ? quote.ask : quote.bid;
  const tolerance = 10_000n + (long ? 1n : -1n) * BigInt(entry.slippageBps);
  if (
    long
      ? fill * 10_000n > entry.expectedPrice * tolerance
      : fill * 10_000n < entry.expectedPrice * tolerance
  ) {
    return { ok: false, code: "slippage_exceeded" };
  }
  const exit = exitPrice(entry.side, quote.bid, quote.ask);
  const { stopLoss, takeProfit } = entry;
  const badStop = stopLoss !== undefined && (long ? stopLoss >= exit : stopLoss <= exit);
  const badTake = takeProfit !== undefined && (long ? takeProfit <= exit : takeProfit >= exit);
  if (badStop || badTake) return { ok: false, code: "invalid_trigger" };
  if (entry.marginCents > account.balanceCents) return { ok: false, code: "insufficient_balance" };
  const quantity = quantityFor(asset, entry.marginCents, entry.leverage, fill);
  if (quantity === 0n) return { ok: false, code: "quantity_too_small" };
  const position: Position = {
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
  };
  account.balanceCents -= entry.marginCents;
  addPosition(state, account, position);
  return { ok: true, result: { event: "opened", ...orderView(position) } };
}

/** Books an open position into the state and its derived indexes. */
export function addPosition(state: EngineState, account: Account, position: Position): void {
  account.lockedCents += position.marginCents;
  account.openSeqs.add(position.seq);
  state.positions.set(position.seq, position);
  state.triggers.get(position.asset)!.add(position);
}

function closeByUser(state: EngineState, entry: CloseEntry): Outcome {
  const seq = Number(entry.orderId);
  const position = state.positions.get(seq);
  if (position === undefined || position.userId !== entry.userId) {
    const closed = state.closed.get(seq);
    const own = closed !== undefined && closed.userId === entry.userId;
    return { ok: false, code: own ? "order_closed" : "order_not_found" };
  }
  const quote = tradableQuote(state, position.asset);
  if (typeof quote === "string") return { ok: false, code: quote };
  return { ok: true, result: closePosition(state, position, quote.bid, quote.ask, "manual") };
}

/** Settles a position at the quote: the owner gets max(0, margin + pnl), the house the rest. */
function closePosition(
  state: EngineState,
  position: Position,
  bid: bigint,
  ask: bigint,
  reason: CloseReason,
): Extract<Result, { event: "closed" }> {
  const account = state.accounts.get(position.userId)!;
  const price = exitPrice(position.side, bid, ask);
  const pnl = pnlCents(position, price);
  const equity = position.marginCents + pnl;
  const payout = equity > 0n ? equity : 0n;
  account.balanceCents += payout;
  account.lockedCents -= position.marginCents;
  account.openSeqs.delete(position.seq);
  state.houseCents += position.marginCents - payout;
  state.positions.delete(position.seq);
  state.closed.set(position.seq, { userId: position.userId, closedAtMs: state.lastMs });
  state.triggers.get(position.asset)!.remove(position, isOpenIn(state));
  const view = closeView(position, price, pnl, account.balanceCents, state.lastMs, reason);
  return { event: "closed", ...view };
}

/** Forgets idempotency keys and closed orders older than their retention, oldest first. */
function pruneExpired(state: EngineState): void {
  const idempotencyCutoff = state.lastMs - state.params.idempotencyTtlMs;
  for (const [key, stored] of state.idempotency) {
    if (stored.atMs > idempotencyCutoff) break;
    state.idempotency.delete(key);
  }
  const closedCutoff = state.lastMs - state.params.closedRetentionMs;
  for (const [seq, closed] of state.closed) {
    if (closed.closedAtMs > closedCutoff) break;
    state.closed.delete(seq);
  }
}
