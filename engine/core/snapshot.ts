/**
 * Canonical encoding of the whole state: the snapshot format and the input of the state hash.
 * Derived data (locked margin, per-account order and key sets, position views, trigger heaps) is
 * not encoded; decode rebuilds it. Collections are written in their Map order, which the stream
 * alone decides. `captureState` takes what the encoding needs at one point of the stream, and
 * `encodeParts` writes it out in parts while the live state moves on.
 */
import { createHash } from "node:crypto";
import type { Asset } from "@trading/shared/assets";
import { isAsset } from "@trading/shared/assets";
import { ENDED_STATUSES, type EndedStatus } from "@trading/shared/schemas";
import { makePending } from "./pending.ts";
import { makePosition, warningPrice } from "./positions.ts";
import { endedRow, pendingRow, positionRow } from "./snapshot_rows.ts";
import type {
  Account,
  EndedOrder,
  EngineState,
  IdempotentAnswer,
  PendingOrder,
  Position,
} from "./state.ts";
import {
  addPending,
  addPosition,
  createState,
  DEFAULT_PARAMS,
  idempotencyMapKey,
  newAccount,
  splitMapKey,
} from "./state.ts";
import { readStreamId } from "./stream_id.ts";

export const SNAPSHOT_VERSION = 4;
/**
 * Versions 1 (before per-account caps and fingerprints), 2 (before pending orders) and 3
 * (before fees and margin calls) still load; see `decodeState`.
 */
const OLDEST_READABLE_VERSION = 1;

export class SnapshotError extends Error {
  override name = "SnapshotError";
}

type Row = unknown[];

/**
 * A consistent, cheap copy of what the encoding needs: references to immutable rows and the
 * few mutable numbers. Taking it costs a pass of pointer copies; encoding it can then proceed
 * in parts while the live state moves on.
 */
export interface StateView {
  head: string;
  closedOrdersKept: number;
  userIds: string[];
  balances: bigint[];
  /** Each account's closed-order array and its length then (appends later do not show). */
  closedSeqs: number[][];
  closedLengths: number[];
  endedOrdersKept: number;
  /** Each account's ended-order array and its length then, as the closed orders. */
  endedOrders: (readonly EndedOrder[])[];
  endedLengths: number[];
  /** Open positions, by reference: they are immutable, their rows are encoded in parts. */
  positions: Position[];
  /** Pending orders, by reference, as positions. */
  pending: PendingOrder[];
  /** Map keys and entries, by reference: entries are immutable, their rows made in parts. */
  idempotencyKeys: string[];
  idempotencyEntries: IdempotentAnswer[];
}

export function captureState(state: EngineState): StateView {
  const p = state.params;
  const params = [
    p.mmrBps,
    p.priceMaxAgeMs,
    p.idempotencyTtlMs,
    p.closedOrdersKept,
    p.demoCreditCents.toString(),
    p.maxOpenPositions,
    p.maxPendingOrders,
    p.maxIdempotencyKeys,
    p.endedOrdersKept,
    p.feeBps,
  ];
  const quotes: Row[] = [];
  for (const [asset, q] of state.quotes) {
    quotes.push([asset, q.bid.toString(), q.ask.toString(), q.atMs, q.exchangeTsUs.toString()]);
  }
  const head = `{"v":${SNAPSHOT_VERSION},"params":${JSON.stringify(params)},` +
    `"lastId":${JSON.stringify(state.lastId)},"nextOrderSeq":${state.nextOrderSeq},` +
    `"houseCents":"${state.houseCents}","creditedCents":"${state.creditedCents}",` +
    `"quotes":${JSON.stringify(quotes)}`;
  const userIds: string[] = new Array(state.accounts.size);
  const balances: bigint[] = new Array(state.accounts.size);
  const closedSeqs: number[][] = new Array(state.accounts.size);
  const closedLengths: number[] = new Array(state.accounts.size);
  const endedOrders: (readonly EndedOrder[])[] = new Array(state.accounts.size);
  const endedLengths: number[] = new Array(state.accounts.size);
  let i = 0;
  for (const account of state.accounts.values()) {
    userIds[i] = account.userId;
    closedSeqs[i] = account.closedSeqs;
    closedLengths[i] = account.closedSeqs.length;
    endedOrders[i] = account.endedOrders;
    endedLengths[i] = account.endedOrders.length;
    balances[i++] = account.balanceCents;
  }
  const positions = [...state.positions.values()];
  const pending = [...state.pending.values()];
  const idempotencyKeys: string[] = new Array(state.idempotency.size);
  const idempotencyEntries: IdempotentAnswer[] = new Array(state.idempotency.size);
  i = 0;
  for (const [mapKey, entry] of state.idempotency) {
    idempotencyKeys[i] = mapKey;
    idempotencyEntries[i++] = entry;
  }
  return {
    head,
    closedOrdersKept: p.closedOrdersKept,
    userIds,
    balances,
    closedSeqs,
    closedLengths,
    endedOrdersKept: p.endedOrdersKept,
    endedOrders,
    endedLengths,
    positions,
    pending,
    idempotencyKeys,
    idempotencyEntries,
  };
}

/** The canonical text of a view, in parts of at most `rowsPerPart` rows each. */
export function* encodeParts(view: StateView, rowsPerPart = 2000): Generator<string> {
  yield view.head + `,"accounts":[`;
  const { userIds, balances, closedSeqs, closedLengths, endedOrders, endedLengths } = view;
  const kept = view.closedOrdersKept;
  const endedKept = view.endedOrdersKept;
  for (let start = 0; start < userIds.length; start += rowsPerPart) {
    const end = Math.min(start + rowsPerPart, userIds.length);
    const rows: string[] = new Array(end - start);
    for (let i = start; i < end; i++) {
      const length = closedLengths[i]!;
      const closed = closedSeqs[i]!.slice(Math.max(0, length - kept), length).join(",");
      const endedLength = endedLengths[i]!;
      const ended = endedLength === 0 ? "" : endedOrders[i]!
        .slice(Math.max(0, endedLength - endedKept), endedLength).map(endedRow).join(",");
      rows[i - start] = `[${JSON.stringify(userIds[i])},"${balances[i]}",[${closed}],[${ended}]]`;
    }
    yield (start > 0 ? "," : "") + rows.join(",");
  }
  yield `],"positions":[`;
  const { positions } = view;
  for (let start = 0; start < positions.length; start += rowsPerPart) {
    const end = Math.min(start + rowsPerPart, positions.length);
    const rows: string[] = new Array(end - start);
    for (let i = start; i < end; i++) {
      const position = positions[i]!;
      rows[i - start] = position.row ??= positionRow(position);
    }
    yield (start > 0 ? "," : "") + rows.join(",");
  }
  yield `],"pending":[`;
  const { pending } = view;
  for (let start = 0; start < pending.length; start += rowsPerPart) {
    const end = Math.min(start + rowsPerPart, pending.length);
    const rows: string[] = new Array(end - start);
    for (let i = start; i < end; i++) {
      const order = pending[i]!;
      rows[i - start] = order.row ??= pendingRow(order);
    }
    yield (start > 0 ? "," : "") + rows.join(",");
  }
  yield `],"idempotency":[`;
  const { idempotencyKeys, idempotencyEntries } = view;
  for (let start = 0; start < idempotencyKeys.length; start += rowsPerPart) {
    const end = Math.min(start + rowsPerPart, idempotencyKeys.length);
    const rows: string[] = new Array(end - start);
    for (let i = start; i < end; i++) {
      const [userId, key] = splitMapKey(idempotencyKeys[i]!);
      const { atMs, fingerprint, result } = idempotencyEntries[i]!;
      rows[i - start] = `[${JSON.stringify(userId)},${JSON.stringify(key)},${atMs},` +
        `${JSON.stringify(fingerprint)},${result}]`;
    }
    yield (start > 0 ? "," : "") + rows.join(",");
  }
  yield "]}";
}

/** The canonical text of the state. Same state, same text, byte for byte. */
export function encodeState(state: EngineState): string {
  return [...encodeParts(captureState(state), 1 << 30)].join("");
}

/** SHA-256 (hex) of a canonical encoding. */
export function hashEncoded(encoded: string): string {
  return createHash("sha256").update(encoded).digest("hex");
}

export function stateHash(state: EngineState): string {
  return hashEncoded(encodeState(state));
}

/** Rebuilds a state from its canonical text; throws SnapshotError on anything malformed. */
export function decodeState(encoded: string): EngineState {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(encoded);
  } catch (error) {
    throw new SnapshotError(`snapshot is not JSON: ${(error as Error).message}`);
  }
  check(typeof doc === "object" && doc !== null, "snapshot is not an object");
  const version = doc.v;
  check(
    typeof version === "number" && version >= OLDEST_READABLE_VERSION &&
      version <= SNAPSHOT_VERSION,
    `unsupported snapshot version ${String(version)}`,
  );
  const v1 = version === 1;
  const v2 = version === 2;
  // Before version 4: no fees (so no fee reserves) and no margin calls.
  const beforeFees = (version as number) < 4;
  const params = rows(doc.params, "params");
  // Version 1 had no caps and kept order owners for a time, version 2 no pending orders: they
  // get today's defaults for what they lack.
  const d = DEFAULT_PARAMS;
  const state = createState({
    mmrBps: positive(params[0], "params.mmrBps"),
    priceMaxAgeMs: positive(params[1], "params.priceMaxAgeMs"),
    idempotencyTtlMs: positive(params[2], "params.idempotencyTtlMs"),
    closedOrdersKept: v1 ? d.closedOrdersKept : positive(params[3], "params.closedKept"),
    demoCreditCents: big(params[4], "params.demoCreditCents"),
    maxOpenPositions: v1 ? d.maxOpenPositions : positive(params[5], "params.maxOpen"),
    maxPendingOrders: v1 ? d.maxPendingOrders : positive(params[6], "params.maxPending"),
    maxIdempotencyKeys: v1 ? d.maxIdempotencyKeys : positive(params[7], "params.maxKeys"),
    endedOrdersKept: v1 || v2 ? d.endedOrdersKept : positive(params[8], "params.endedKept"),
    feeBps: beforeFees ? 0 : nonNegative(params[9], "params.feeBps"),
  });
  const lastId = str(doc.lastId, "lastId");
  const last = { ms: 0, seq: 0 };
  check(readStreamId(lastId, last), "lastId is not a stream id");
  state.lastId = lastId;
  state.lastMs = last.ms;
  state.lastSeqInMs = last.seq;
  state.nextOrderSeq = int(doc.nextOrderSeq, "nextOrderSeq");
  state.houseCents = big(doc.houseCents, "houseCents");
  state.creditedCents = big(doc.creditedCents, "creditedCents");
  for (const row of rows(doc.quotes, "quotes") as Row[]) {
    const asset = assetOf(row[0]);
    state.quotes.set(asset, {
      bid: big(row[1], "quote.bid"),
      ask: big(row[2], "quote.ask"),
      atMs: int(row[3], "quote.atMs"),
      exchangeTsUs: big(row[4], "quote.ts"),
    });
  }
  for (const row of rows(doc.accounts, "accounts") as Row[]) {
    const userId = str(row[0], "account.userId");
    const account: Account = newAccount(userId, big(row[1], "account.balance"));
    if (!v1) account.closedSeqs = rows(row[2], "account.closed").map((s) => positive(s, "closed"));
    // An account with no ended order keeps newAccount's shared empty array (state.ts NO_ENDED).
    const ended = v1 || v2 ? [] : rows(row[3], "account.ended");
    if (ended.length > 0) account.endedOrders = ended.map((e) => decodeEnded(e, beforeFees));
    check(account.endedOrders.every((e) => e.order.userId === userId), "ended order's owner");
    state.accounts.set(userId, account);
  }
  for (const row of rows(doc.positions, "positions") as Row[]) {
    const position = decodePosition(row, beforeFees ? state.params.mmrBps : undefined);
    const account = state.accounts.get(position.userId);
    check(account !== undefined, `position ${position.seq} has no account`);
    check(!state.positions.has(position.seq), `position ${position.seq} appears twice`);
    addPosition(state, account, position);
  }
  check((doc.pending === undefined) === (v1 || v2), "pending orders belong to version 3");
  for (const row of (v1 || v2 ? [] : rows(doc.pending, "pending")) as Row[]) {
    const order = decodePending(row, beforeFees);
    const account = state.accounts.get(order.userId);
    check(account !== undefined, `order ${order.seq} has no account`);
    check(!state.pending.has(order.seq), `order ${order.seq} appears twice`);
    check(!state.positions.has(order.seq), `order ${order.seq} is also a position`);
    addPending(state, account, order);
  }
  for (const row of rows(doc.idempotency, "idempotency") as Row[]) {
    // Version 1 rows held whole answers, refusals too, and no fingerprint: refusals are dropped.
    const v1Answer = v1 ? row[3] as { ok?: unknown; result?: unknown } : undefined;
    if (v1) check(typeof v1Answer === "object" && v1Answer !== null, "idempotency answer");
    if (v1Answer !== undefined && v1Answer.ok !== true) continue;
    const result = v1 ? v1Answer!.result : row[4];
    check(typeof result === "object" && result !== null, "idempotency result");
    const userId = str(row[0], "idempotency.userId");
    const entry: IdempotentAnswer = {
      atMs: int(row[2], "idempotency.atMs"),
      fingerprint: v1 ? "" : str(row[3], "idempotency.fingerprint"),
      result: JSON.stringify(result),
    };
    const mapKey = idempotencyMapKey(userId, str(row[1], "idempotency.key"));
    const account = state.accounts.get(userId);
    check(account !== undefined, `idempotency key of ${userId}, who has no account`);
    check(!state.idempotency.has(mapKey), "an idempotency key appears twice");
    state.idempotency.set(mapKey, entry);
    account.idempotencyKeys.add(mapKey);
    account.idempotencyChars += entry.result.length;
  }
  if (v1) closedFromOrderLog(state, rows(doc.orders, "orders"));
  check(doc.orders === undefined || v1, "orders belong to version 1");
  return state;
}

/** Version 1 kept every recent order's owner: the closed ones become their owners' history. */
function closedFromOrderLog(state: EngineState, orders: Row): void {
  const firstSeq = int(orders[0], "orders.firstSeq");
  const owners = rows(orders[1], "orders.owners") as Row[];
  check(firstSeq + owners.length === state.nextOrderSeq, "orders do not end at nextOrderSeq");
  owners.forEach((row, i) => {
    const seq = firstSeq + i;
    const account = state.accounts.get(str(row[0], "order.userId"));
    check(account !== undefined, `order ${seq} has no account`);
    if (!state.positions.has(seq)) account.closedSeqs.push(seq);
  });
  for (const account of state.accounts.values()) {
    account.closedSeqs = account.closedSeqs.slice(-state.params.closedOrdersKept);
  }
}

/**
 * A position's row. One from before margin calls (`oldMmrBps` given: the state's MMR, the best
 * knowledge of the one it opened under) gets its warning price computed from its fields, armed.
 */
function decodePosition(row: Row, oldMmrBps: number | undefined): Position {
  const side = row[3];
  check(side === "long" || side === "short", "position.side");
  const asset = assetOf(row[2]);
  const marginCents = big(row[4], "position.margin");
  const entryPrice = big(row[6], "position.entryPrice");
  const quantity = big(row[7], "position.quantity");
  check(quantity > 0n, "position.quantity");
  const marginCalled = oldMmrBps === undefined ? row[13] : false;
  check(typeof marginCalled === "boolean", "position.marginCalled");
  return makePosition({
    seq: int(row[0], "position.seq"),
    userId: str(row[1], "position.userId"),
    asset,
    side,
    marginCents,
    leverage: int(row[5], "position.leverage"),
    entryPrice,
    quantity,
    liquidationPrice: big(row[8], "position.liquidationPrice"),
    warningPrice: oldMmrBps === undefined
      ? big(row[12], "position.warningPrice")
      : warningPrice(asset, side, entryPrice, quantity, marginCents, oldMmrBps),
    marginCalled,
    stopLoss: row[9] === null ? undefined : big(row[9], "position.stopLoss"),
    takeProfit: row[10] === null ? undefined : big(row[10], "position.takeProfit"),
    openedAtMs: int(row[11], "position.openedAtMs"),
  });
}

/** A pending order's row; one from before fees reserved none. */
function decodePending(row: Row, beforeFees: boolean): PendingOrder {
  const side = row[3];
  check(side === "long" || side === "short", "pending.side");
  const orderType = row[4];
  check(orderType === "limit" || orderType === "stop", "pending.orderType");
  return makePending({
    seq: int(row[0], "pending.seq"),
    userId: str(row[1], "pending.userId"),
    asset: assetOf(row[2]),
    side,
    orderType,
    marginCents: big(row[5], "pending.margin"),
    leverage: int(row[6], "pending.leverage"),
    triggerPrice: big(row[7], "pending.triggerPrice"),
    stopLoss: row[8] === null ? undefined : big(row[8], "pending.stopLoss"),
    takeProfit: row[9] === null ? undefined : big(row[9], "pending.takeProfit"),
    expiresAtMs: row[10] === null ? undefined : int(row[10], "pending.expiresAt"),
    createdAtMs: int(row[11], "pending.createdAt"),
    feeReserveCents: beforeFees ? 0n : nonNegativeBig(row[12], "pending.feeReserve"),
  });
}

function decodeEnded(value: unknown, beforeFees: boolean): EndedOrder {
  const row = rows(value, "ended");
  const status = row[0];
  check(ENDED_STATUSES.includes(status as EndedStatus), "ended.status");
  const order = decodePending(rows(row[2], "ended.order"), beforeFees);
  // An ended order is in no index: its ticket is dead, as it is in the state that ended it.
  order.ticket.live = false;
  return { status: status as EndedStatus, endedAtMs: int(row[1], "ended.at"), order };
}

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new SnapshotError(`malformed snapshot: ${what}`);
}

function rows(value: unknown, what: string): Row {
  check(Array.isArray(value), `${what} is not a list`);
  return value;
}

function str(value: unknown, what: string): string {
  check(typeof value === "string", what);
  return value;
}

function int(value: unknown, what: string): number {
  check(Number.isSafeInteger(value), what);
  return value as number;
}

/** A parameter or count that must be at least 1 (a cap of 0 would loop or refuse everything). */
function positive(value: unknown, what: string): number {
  check(Number.isSafeInteger(value) && (value as number) >= 1, what);
  return value as number;
}

function nonNegative(value: unknown, what: string): number {
  check(Number.isSafeInteger(value) && (value as number) >= 0, what);
  return value as number;
}

function nonNegativeBig(value: unknown, what: string): bigint {
  const amount = big(value, what);
  check(amount >= 0n, what);
  return amount;
}

function big(value: unknown, what: string): bigint {
  check(typeof value === "string" && /^-?\d{1,30}$/.test(value), what);
  return BigInt(value);
}

function assetOf(value: unknown): Asset {
  check(isAsset(value), "asset");
  return value;
}
