/**
 * Random trading workloads for property tests and benchmarks. An `Op` is an abstract step
 * (move a price, open, close...) drawn by fast-check; `toEntries` turns a list of them into
 * concrete input entries with increasing stream IDs, keeping prices on a plausible walk so
 * that opens succeed often and triggers really fire. `opArbitrary` draws market orders, closes
 * and reads (what the crash test replays); `workloadArbitrary` adds pending orders, cancels,
 * modifies, partial closes and closeAll (`orderOpArbitrary`).
 */
import fc from "fast-check";
import { ASSET_SYMBOLS } from "@trading/shared/assets";
import {
  type CancelEntry,
  type CloseAllEntry,
  type CloseEntry,
  encodeInput,
  type InputFields,
  type ModifyEntry,
  type OpenEntry,
  type QueryEntry,
  type ResetEntry,
} from "@trading/shared/schemas";
import { createState } from "../core/state.ts";
import { applyFields } from "../core/step.ts";

export type Op =
  | { op: "price"; asset: number; moveBps: number; spreadBps: number; dtMs: number }
  | { op: "account"; user: number; dtMs: number }
  | {
    op: "open";
    user: number;
    asset: number;
    long: boolean;
    marginCents: number;
    leverage: number;
    slippageBps: number;
    expectedOffsetBps: number;
    stopLossBps: number | null;
    takeProfitBps: number | null;
    key: number | null;
    /** Which of two requests a keyed one claims to be: a reused key when they differ. */
    fingerprint: number;
    dtMs: number;
  }
  | {
    op: "close";
    user: number;
    order: number;
    stranger: boolean;
    key: number | null;
    fingerprint: number;
    dtMs: number;
  }
  | { op: "garbage"; variant: number; dtMs: number }
  | { op: "query"; user: number; page: number | null; cursor: number; dtMs: number }
  | {
    op: "pending";
    user: number;
    asset: number;
    long: boolean;
    limit: boolean;
    marginCents: number;
    leverage: number;
    /** Where the trigger is from the mid; the wrong side makes a limit fill at once. */
    triggerBps: number;
    stopLossBps: number | null;
    takeProfitBps: number | null;
    expiresInMs: number | null;
    key: number | null;
    fingerprint: number;
    dtMs: number;
  }
  | {
    op: "cancel" | "modify" | "partial";
    user: number;
    /** Which pending order (cancel) or order of either kind (modify), or position (partial). */
    order: number;
    stranger: boolean;
    /** modify: the new stop-loss / take-profit in bps from the mid, or remove (-1). */
    stopLossBps: number | null;
    takeProfitBps: number | null;
    /** partial: the part closed, in per mille of the position (0 and > 1000 are refused). */
    perMille: number;
    key: number | null;
    fingerprint: number;
    dtMs: number;
  }
  | { op: "close_all"; user: number; asset: number | null; key: number | null; dtMs: number }
  | { op: "reset"; user: number; key: number | null; dtMs: number }
  /** The engine's fee rate changed by a `configure` entry (as at an engine's start). */
  | { op: "fees"; feeBps: number; dtMs: number }
  | { op: "pages"; user: number; history: boolean; page: number; cursor: number; dtMs: number };

const USERS = 6;
const dt = fc.oneof(
  { weight: 60, arbitrary: fc.integer({ min: 0, max: 400 }) },
  { weight: 1, arbitrary: fc.integer({ min: 5000, max: 90_000_000 }) },
);

export const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant("price" as const),
      asset: fc.nat(2),
      moveBps: fc.oneof(fc.integer({ min: -300, max: 300 }), fc.integer({ min: -5000, max: 5000 })),
      spreadBps: fc.integer({ min: 0, max: 50 }),
      dtMs: dt,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("account" as const),
      user: fc.nat(USERS - 1),
      dtMs: dt,
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant("open" as const),
      user: fc.nat(USERS - 1),
      asset: fc.nat(2),
      long: fc.boolean(),
      marginCents: fc.oneof(
        fc.integer({ min: 100, max: 50_000 }),
        fc.integer({ min: 100, max: 600_000 }),
      ),
      leverage: fc.integer({ min: 1, max: 100 }),
      slippageBps: fc.integer({ min: 0, max: 200 }),
      expectedOffsetBps: fc.integer({ min: -100, max: 100 }),
      stopLossBps: fc.option(fc.integer({ min: -800, max: 200 })),
      takeProfitBps: fc.option(fc.integer({ min: -200, max: 800 })),
      key: fc.option(fc.nat(3)),
      fingerprint: fc.nat(1),
      dtMs: dt,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("close" as const),
      user: fc.nat(USERS - 1),
      order: fc.nat(1000),
      stranger: fc.boolean(),
      key: fc.option(fc.nat(3)),
      fingerprint: fc.nat(1),
      dtMs: dt,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant("garbage" as const), variant: fc.nat(5), dtMs: dt }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("query" as const),
      user: fc.nat(USERS),
      page: fc.option(fc.integer({ min: 1, max: 3 })),
      cursor: fc.nat(20),
      dtMs: dt,
    }),
  },
);

/** Pending orders, cancels, modifies, partial closes, closeAll and their reads. */
export const orderOpArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant("pending" as const),
      user: fc.nat(USERS - 1),
      asset: fc.nat(2),
      long: fc.boolean(),
      limit: fc.boolean(),
      marginCents: fc.integer({ min: 100, max: 80_000 }),
      leverage: fc.integer({ min: 1, max: 100 }),
      triggerBps: fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: -50, max: 600 })),
      stopLossBps: fc.option(fc.integer({ min: -800, max: 100 })),
      takeProfitBps: fc.option(fc.integer({ min: -100, max: 800 })),
      expiresInMs: fc.option(fc.integer({ min: 0, max: 3_000 })),
      key: fc.option(fc.nat(3)),
      fingerprint: fc.nat(1),
      dtMs: dt,
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constantFrom("cancel" as const, "modify" as const, "partial" as const),
      user: fc.nat(USERS - 1),
      order: fc.nat(1000),
      stranger: fc.boolean(),
      stopLossBps: fc.option(fc.integer({ min: -800, max: 100 })),
      takeProfitBps: fc.option(fc.integer({ min: -100, max: 800 })),
      perMille: fc.oneof(fc.integer({ min: 1, max: 999 }), fc.constantFrom(0, 1000, 1001)),
      key: fc.option(fc.nat(3)),
      fingerprint: fc.nat(1),
      dtMs: dt,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("close_all" as const),
      user: fc.nat(USERS - 1),
      asset: fc.option(fc.nat(2)),
      key: fc.option(fc.nat(3)),
      dtMs: dt,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("pages" as const),
      user: fc.nat(USERS - 1),
      history: fc.boolean(),
      page: fc.integer({ min: 1, max: 3 }),
      cursor: fc.nat(30),
      dtMs: dt,
    }),
  },
);

export interface StreamEntry {
  id: string;
  fields: InputFields;
}

const START_PRICES = [9_700_000n, 350_000n, 1_500_000n]; // BTC 97000, ETH 3500, SOL 150

function bps(price: bigint, basisPoints: number): bigint {
  const moved = price * BigInt(10_000 + basisPoints) / 10_000n;
  return moved > 0n ? moved : 1n;
}

/** Concrete entries for a list of ops, starting at stream time `startMs`. */
export function toEntries(ops: readonly Op[], startMs = 1_700_000_000_000): StreamEntry[] {
  const mids = [...START_PRICES];
  let ms = startMs;
  let seqInMs = 0;
  let request = 0;
  const entries: StreamEntry[] = [];
  // A shadow engine lets closes aim at orders that exist (and sometimes at someone else's).
  const shadow = createState();
  // Well-formed entries go through encodeInput, as every producer writes them; garbage as is.
  const push = (dtMs: number, fields: InputFields) => {
    if (dtMs > 0) {
      ms += dtMs;
      seqInMs = 0;
    } else if (entries.length > 0) seqInMs++;
    const id = `${ms}-${seqInMs}`;
    entries.push({ id, fields });
    applyFields(shadow, fields, id);
  };
  // Every workload starts with the users' accounts and a quote per asset, so ops trade.
  for (let user = 0; user < USERS; user++) {
    push(0, encodeInput({ kind: "create_account", requestId: `a${user}`, userId: `u${user}` }));
  }
  ASSET_SYMBOLS.forEach((asset, i) => {
    const mid = mids[i]!;
    push(0, encodeInput({ kind: "price", asset, bid: mid, ask: mid + 1n, ts: BigInt(ms) * 1000n }));
  });
  for (const op of ops) {
    const requestId = `r${++request}`;
    switch (op.op) {
      case "price": {
        const mid = mids[op.asset] = bps(mids[op.asset]!, op.moveBps);
        const half = mid * BigInt(op.spreadBps) / 20_000n;
        const bid = mid - half > 0n ? mid - half : 1n;
        const asset = ASSET_SYMBOLS[op.asset]!;
        push(
          op.dtMs,
          encodeInput({ kind: "price", asset, bid, ask: mid + half, ts: BigInt(ms) * 1000n }),
        );
        break;
      }
      case "account":
        push(op.dtMs, encodeInput({ kind: "create_account", requestId, userId: `u${op.user}` }));
        break;
      case "open": {
        const mid = mids[op.asset]!;
        const sign = op.long ? 1 : -1;
        const entry: OpenEntry = {
          kind: "open",
          requestId,
          userId: `u${op.user}`,
          asset: ASSET_SYMBOLS[op.asset]!,
          side: op.long ? "long" : "short",
          marginCents: BigInt(op.marginCents),
          leverage: op.leverage,
          slippageBps: op.slippageBps,
          expectedPrice: bps(mid, op.expectedOffsetBps),
          // Mostly on the valid side (below the price for a long's stop), sometimes not.
          ...(op.stopLossBps === null ? {} : { stopLoss: bps(mid, sign * op.stopLossBps) }),
          ...(op.takeProfitBps === null ? {} : { takeProfit: bps(mid, sign * op.takeProfitBps) }),
          ...(op.key === null
            ? {}
            : { idempotencyKey: `k${op.key}`, fingerprint: `f${op.fingerprint}` }),
        };
        push(op.dtMs, encodeInput(entry));
        break;
      }
      case "close": {
        const open = [...shadow.positions.values()];
        const target = open[op.order % Math.max(open.length, 1)];
        const entry: CloseEntry = {
          kind: "close",
          requestId,
          userId: target === undefined || op.stranger ? `u${op.user}` : target.userId,
          orderId: String(
            target === undefined || op.order % 7 === 0 ? op.order % 50 + 1 : target.seq,
          ),
          ...(op.key === null
            ? {}
            : { idempotencyKey: `c${op.key}`, fingerprint: `f${op.fingerprint}` }),
        };
        push(op.dtMs, encodeInput(entry));
        break;
      }
      case "query": {
        const entry: QueryEntry = { kind: "query", requestId, userId: `u${op.user}` };
        if (op.page !== null) {
          entry.scope = "open";
          entry.limit = op.page;
          if (op.cursor > 0) entry.cursor = String(op.cursor);
        }
        push(op.dtMs, encodeInput(entry));
        break;
      }
      case "garbage":
        push(op.dtMs, GARBAGE[op.variant % GARBAGE.length]!(requestId));
        break;
      default:
        push(op.dtMs, orderEntry(op, requestId, mids, ms, shadow));
    }
  }
  return entries;
}

type OrderOp = Exclude<Op, { op: "price" | "account" | "open" | "close" | "garbage" | "query" }>;

/** The entry of a pending-order op, aimed (mostly) at orders that exist, from the shadow. */
function orderEntry(
  op: OrderOp,
  requestId: string,
  mids: readonly bigint[],
  ms: number,
  shadow: ReturnType<typeof createState>,
): InputFields {
  if (op.op === "fees") return encodeInput({ kind: "configure", feeBps: op.feeBps });
  const userId = `u${op.user}`;
  const keyed = (key: number | null, prefix: string, fingerprint = 0) =>
    key === null ? {} : { idempotencyKey: `${prefix}${key}`, fingerprint: `f${fingerprint}` };
  if (op.op === "pending") {
    const mid = mids[op.asset]!;
    // A limit waits on the far side of the quote (below for a long), a stop on the near side.
    const away = (op.long === op.limit ? -1 : 1) * op.triggerBps;
    const trigger = bps(mid, away);
    const sign = op.long ? 1 : -1;
    const entry: OpenEntry = {
      kind: "open",
      requestId,
      userId,
      asset: ASSET_SYMBOLS[op.asset]!,
      side: op.long ? "long" : "short",
      marginCents: BigInt(op.marginCents),
      leverage: op.leverage,
      orderType: op.limit ? "limit" : "stop",
      triggerPrice: trigger,
      ...(op.expiresInMs === null ? {} : { expiresAt: ms + op.expiresInMs }),
      ...(op.stopLossBps === null ? {} : { stopLoss: bps(trigger, sign * op.stopLossBps) }),
      ...(op.takeProfitBps === null ? {} : { takeProfit: bps(trigger, sign * op.takeProfitBps) }),
      ...keyed(op.key, "p", op.fingerprint),
    };
    return encodeInput(entry);
  }
  if (op.op === "close_all") {
    const entry: CloseAllEntry = {
      kind: "close_all",
      requestId,
      userId,
      ...(op.asset === null ? {} : { asset: ASSET_SYMBOLS[op.asset]! }),
      ...keyed(op.key, "x"),
    };
    return encodeInput(entry);
  }
  if (op.op === "reset") {
    const entry: ResetEntry = { kind: "reset", requestId, userId, ...keyed(op.key, "z") };
    return encodeInput(entry);
  }
  if (op.op === "pages") {
    const entry: QueryEntry = {
      kind: "query",
      requestId,
      userId,
      scope: op.history ? "orders_history" : "pending",
      limit: op.page,
      ...(op.cursor > 0 ? { cursor: String(op.cursor) } : {}),
    };
    return encodeInput(entry);
  }
  const pending = [...shadow.pending.values()];
  const positions = [...shadow.positions.values()];
  const targets = op.op === "cancel"
    ? pending
    : op.op === "partial"
    ? positions
    : [...pending, ...positions];
  const target = targets[op.order % Math.max(targets.length, 1)];
  const owner = target === undefined || op.stranger ? userId : target.userId;
  const orderId = String(
    target === undefined || op.order % 7 === 0 ? op.order % 50 + 1 : target.seq,
  );
  if (op.op === "cancel") {
    const entry: CancelEntry = {
      kind: "cancel",
      requestId,
      userId: owner,
      orderId,
      ...keyed(op.key, "n", op.fingerprint),
    };
    return encodeInput(entry);
  }
  if (op.op === "partial") {
    const held = target !== undefined && "quantity" in target ? target.quantity : 1000n;
    const quantity = held * BigInt(op.perMille) / 1000n;
    const entry: CloseEntry = {
      kind: "close",
      requestId,
      userId: owner,
      orderId,
      quantity,
      ...keyed(op.key, "c", op.fingerprint),
    };
    return encodeInput(entry);
  }
  const reference = target === undefined
    ? mids[0]!
    : "triggerPrice" in target
    ? target.triggerPrice
    : mids[ASSET_SYMBOLS.indexOf(target.asset)]!;
  const sign = target?.side === "short" ? -1 : 1;
  const level = (bpsAway: number | null) =>
    bpsAway === null ? undefined : bpsAway === -1 ? null : bps(reference, sign * bpsAway);
  const stopLoss = level(op.stopLossBps);
  const takeProfit = level(op.takeProfitBps);
  const entry: ModifyEntry = {
    kind: "modify",
    requestId,
    userId: owner,
    orderId,
    // A modify changes something: with neither drawn, it removes the take-profit.
    ...(stopLoss === undefined ? {} : { stopLoss }),
    ...(takeProfit === undefined && stopLoss !== undefined
      ? {}
      : { takeProfit: takeProfit ?? null }),
    ...keyed(op.key, "m", op.fingerprint),
  };
  return encodeInput(entry);
}

const GARBAGE: Array<(requestId: string) => InputFields> = [
  (requestId) => ({ kind: "open", requestId, userId: "u1", asset: "BTC", side: "up" }),
  (requestId) => ({ kind: "nope", requestId }),
  () => ({ price: "BTC -1 1 0" }),
  (requestId) => ({ kind: "close", requestId, userId: "u1", orderId: "1e3" }),
  () => ({ junk: "" }), // Redis refuses an entry with no field at all
  (requestId) => ({ kind: "create_account", requestId, userId: "u1", balance: "999999999" }),
];

/** A reset: rare, as it needs an account with nothing open. */
const resetOpArbitrary: fc.Arbitrary<Op> = fc.record({
  op: fc.constant("reset" as const),
  user: fc.nat(USERS - 1),
  key: fc.option(fc.nat(3), { nil: null }),
  dtMs: dt,
});

/**
 * A fee rate change, as an engine restarted with another `FEE_BPS` writes it. Only for pure runs
 * (`workloadArbitrary`): a real engine restarted in a crash test would write its own rate back.
 */
const feesOpArbitrary: fc.Arbitrary<Op> = fc.record({
  op: fc.constant("fees" as const),
  feeBps: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constant(1000)),
  dtMs: dt,
});

/**
 * Every kind of instruction: market orders and reads (`opArbitrary`), orders beyond the market
 * and, rarely, resets.
 */
export const allOpArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 30, arbitrary: opArbitrary },
  { weight: 10, arbitrary: orderOpArbitrary },
  { weight: 1, arbitrary: resetOpArbitrary },
);

/** What the property tests run: every instruction, and now and then a fee rate change. */
const workloadOpArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 60, arbitrary: allOpArbitrary },
  { weight: 1, arbitrary: feesOpArbitrary },
);

export const workloadArbitrary = fc.array(workloadOpArbitrary, {
  minLength: 1,
  maxLength: 120,
  size: "medium",
});
