/**
 * Entries of `engine:input`, the one ordered stream. On the wire an entry is a flat map of
 * string fields (a Redis stream entry); `decodeInput` validates it into a typed entry whose
 * amounts are bigints. Prices and trigger levels travel as integer units at the asset's scale,
 * margins as integer cents, so the engine never parses a decimal on its hot path.
 *
 * The zod schemas here are what an instruction is: the fast path (`flat.ts`) must accept
 * exactly what they accept (a property test holds it to that). Price entries have their own
 * wire format (`price.ts`).
 */
import { z } from "zod";
import {
  AMOUNT_RE,
  ASSET_TEXT_RE,
  BOUNDED_INT_RE,
  EXPIRES_AT_MS,
  FEE_BPS,
  FINGERPRINT_RE,
  ID_RE,
  IDEMPOTENCY_KEY_RE,
  type IntRange,
  LEVERAGE,
  OPEN_PAGE_LIMIT,
  ORDER_ID_RE,
  ORDER_TYPES,
  QUERY_SCOPES,
  REMOVE_LEVEL,
  REPLY_TO_RE,
  SLIPPAGE_BPS,
  SMALL_INT_RE,
} from "./patterns.ts";
import { formatPriceValue, parsePriceValue, type PriceEntry } from "./price.ts";

export const idempotencyKeySchema = z.string().regex(IDEMPOTENCY_KEY_RE, {
  message: "must be 1–64 printable characters",
});
export const requestIdSchema = z.string().regex(ID_RE);
export const userIdSchema = z.string().regex(ID_RE);
/**
 * Where the answer goes: the asking API process's id (`API_ID`). The engine writes the answer
 * to that process's reply stream (`replyStream` in shared/redis.ts); without it, no process
 * waits for the answer and none is written.
 */
export const replyToSchema = z.string().regex(REPLY_TO_RE);
/** Order IDs are the engine's creation sequence numbers, written in decimal. */
export const orderIdSchema = z.string().regex(ORDER_ID_RE);
/**
 * What a keyed request asked for (the API hashes its endpoint and body): a key sent again
 * with another request is refused instead of answering the first one.
 */
export const fingerprintSchema = z.string().regex(FINGERPRINT_RE);

/** A non-negative integer below MAX_UNITS, written in decimal, as bigint. */
const units = z.string().regex(AMOUNT_RE, { message: "must be a non-negative integer" })
  .transform((text) => BigInt(text));
const positiveUnits = units.refine((value) => value > 0n, { message: "must be greater than zero" });
const intIn = (re: RegExp, { min, max }: IntRange) =>
  z.string().regex(re, { message: "must be an integer" })
    .transform((text) => Number(text))
    .refine((value) => value >= min && value <= max, { message: `must be ${min}..${max}` });
const smallInt = (range: IntRange) => intIn(SMALL_INT_RE, range);
/** Asset symbols are checked by the engine (refusal `unknown_asset`), only shaped here. */
const assetText = z.string().regex(ASSET_TEXT_RE);

export const createAccountEntrySchema = z.strictObject({
  kind: z.literal("create_account"),
  requestId: requestIdSchema,
  replyTo: replyToSchema.optional(),
  userId: userIdSchema,
});

/**
 * An order. A market order (no `orderType`, or "market") fills at once and carries
 * `slippageBps` and `expectedPrice`; a "limit" or "stop" order carries `triggerPrice` instead,
 * and may carry `expiresAt` (stream time, ms): it waits as a pending order until a quote
 * crosses its trigger price (docs/design.md §2, Pending orders).
 */
export const openEntrySchema = z.strictObject({
  kind: z.literal("open"),
  requestId: requestIdSchema,
  replyTo: replyToSchema.optional(),
  userId: userIdSchema,
  idempotencyKey: idempotencyKeySchema.optional(),
  fingerprint: fingerprintSchema.optional(),
  asset: assetText,
  side: z.enum(["long", "short"]),
  marginCents: positiveUnits,
  leverage: smallInt(LEVERAGE),
  orderType: z.enum(ORDER_TYPES).optional(),
  slippageBps: smallInt(SLIPPAGE_BPS).optional(),
  expectedPrice: positiveUnits.optional(),
  triggerPrice: positiveUnits.optional(),
  expiresAt: intIn(BOUNDED_INT_RE, EXPIRES_AT_MS).optional(),
  stopLoss: positiveUnits.optional(),
  takeProfit: positiveUnits.optional(),
}).superRefine((entry, context) => {
  const problem = orderTypeProblem(entry);
  if (problem !== undefined) context.addIssue({ code: "custom", message: problem });
});

/** Which fields an order type needs and refuses (the fast path asks the same function). */
export function orderTypeProblem(entry: {
  orderType?: string | undefined;
  slippageBps?: unknown;
  expectedPrice?: unknown;
  triggerPrice?: unknown;
  expiresAt?: unknown;
}): string | undefined {
  const market = entry.orderType === undefined || entry.orderType === "market";
  if (market) {
    if (entry.slippageBps === undefined || entry.expectedPrice === undefined) {
      return "a market order needs slippageBps and expectedPrice";
    }
    if (entry.triggerPrice !== undefined || entry.expiresAt !== undefined) {
      return "a market order has no triggerPrice or expiresAt";
    }
    return undefined;
  }
  if (entry.triggerPrice === undefined) return `a ${entry.orderType} order needs triggerPrice`;
  if (entry.slippageBps !== undefined || entry.expectedPrice !== undefined) {
    return `a ${entry.orderType} order has no slippageBps or expectedPrice`;
  }
  return undefined;
}

/** A close of a position: all of it, or `quantity` of it (units of 10^-8 of the asset). */
export const closeEntrySchema = z.strictObject({
  kind: z.literal("close"),
  requestId: requestIdSchema,
  replyTo: replyToSchema.optional(),
  userId: userIdSchema,
  idempotencyKey: idempotencyKeySchema.optional(),
  fingerprint: fingerprintSchema.optional(),
  orderId: orderIdSchema,
  /** Zero is well-formed and refused by the engine (`invalid_quantity`), as a too-large part. */
  quantity: units.optional(),
});

/** A cancel of a pending order: its reserved margin goes back to the balance. */
export const cancelEntrySchema = z.strictObject({
  kind: z.literal("cancel"),
  requestId: requestIdSchema,
  replyTo: replyToSchema.optional(),
  userId: userIdSchema,
  idempotencyKey: idempotencyKeySchema.optional(),
  fingerprint: fingerprintSchema.optional(),
  orderId: orderIdSchema,
});

/** A level a `modify` sets (a positive integer), or removes (REMOVE_LEVEL, decoded as null). */
const levelChange = z.union([
  z.literal(REMOVE_LEVEL).transform((): null => null),
  positiveUnits,
]);

/**
 * New stop-loss and/or take-profit of an open position or a pending order. A field left out
 * keeps its level; the empty string removes it; at least one is present.
 */
export const modifyEntrySchema = z.strictObject({
  kind: z.literal("modify"),
  requestId: requestIdSchema,
  replyTo: replyToSchema.optional(),
  userId: userIdSchema,
  idempotencyKey: idempotencyKeySchema.optional(),
  fingerprint: fingerprintSchema.optional(),
  orderId: orderIdSchema,
  stopLoss: levelChange.optional(),
  takeProfit: levelChange.optional(),
}).refine((entry) => entry.stopLoss !== undefined || entry.takeProfit !== undefined, {
  message: "a modify changes stopLoss or takeProfit",
});

/** Closes every open position of the user (of `asset` only, when given) as one instruction. */
export const closeAllEntrySchema = z.strictObject({
  kind: z.literal("close_all"),
  requestId: requestIdSchema,
  replyTo: replyToSchema.optional(),
  userId: userIdSchema,
  idempotencyKey: idempotencyKeySchema.optional(),
  fingerprint: fingerprintSchema.optional(),
  asset: assetText.optional(),
});

/**
 * The user's demo money back to the starting credit; refused (`positions_open`) while the user
 * holds an open position or a pending order.
 */
export const resetEntrySchema = z.strictObject({
  kind: z.literal("reset"),
  requestId: requestIdSchema,
  replyTo: replyToSchema.optional(),
  userId: userIdSchema,
  idempotencyKey: idempotencyKeySchema.optional(),
  fingerprint: fingerprintSchema.optional(),
});

/**
 * A read of the user's account, ordered with the trades around it: its money ("balance", the
 * default), or a page of `limit` after the order ID `cursor` of its open positions ("open") or
 * pending orders ("pending"), in order ID order, or of its ended pending orders
 * ("orders_history"), newest first; so no answer is larger than its caller needs.
 */
export const queryEntrySchema = z.strictObject({
  kind: z.literal("query"),
  requestId: requestIdSchema,
  replyTo: replyToSchema.optional(),
  userId: userIdSchema,
  scope: z.enum(QUERY_SCOPES).optional(),
  limit: smallInt(OPEN_PAGE_LIMIT).optional(),
  cursor: orderIdSchema.optional(),
});

/** Instructions: every entry that is not a price. */
export const instructionEntrySchema = z.discriminatedUnion("kind", [
  createAccountEntrySchema,
  openEntrySchema,
  closeEntrySchema,
  cancelEntrySchema,
  modifyEntrySchema,
  closeAllEntrySchema,
  resetEntrySchema,
  queryEntrySchema,
]);

/**
 * A change of the engine's parameters, written by the engine itself at start when its
 * configuration differs from its state's: in the stream, so a replay changes them at the same
 * place the live engine did. It answers nothing.
 */
export const configureEntrySchema = z.strictObject({
  kind: z.literal("configure"),
  mmrBps: smallInt({ min: 1, max: 99 }).optional(),
  priceMaxAgeMs: intIn(BOUNDED_INT_RE, { min: 1, max: 86_400_000 }).optional(),
  maxOpenPositions: smallInt({ min: 1, max: 10_000 }).optional(),
  maxPendingOrders: smallInt({ min: 1, max: 10_000 }).optional(),
  feeBps: smallInt(FEE_BPS).optional(),
});

const nonPriceEntrySchema = z.discriminatedUnion("kind", [
  createAccountEntrySchema,
  openEntrySchema,
  closeEntrySchema,
  cancelEntrySchema,
  modifyEntrySchema,
  closeAllEntrySchema,
  resetEntrySchema,
  queryEntrySchema,
  configureEntrySchema,
]);

export type CreateAccountEntry = z.output<typeof createAccountEntrySchema>;
export type OpenEntry = z.output<typeof openEntrySchema>;
export type CloseEntry = z.output<typeof closeEntrySchema>;
export type CancelEntry = z.output<typeof cancelEntrySchema>;
export type ModifyEntry = z.output<typeof modifyEntrySchema>;
export type CloseAllEntry = z.output<typeof closeAllEntrySchema>;
export type ResetEntry = z.output<typeof resetEntrySchema>;
export type QueryEntry = z.output<typeof queryEntrySchema>;
export type InstructionEntry = z.output<typeof instructionEntrySchema>;
export type ConfigureEntry = z.output<typeof configureEntrySchema>;
export type InputEntry = PriceEntry | InstructionEntry | ConfigureEntry;
/** The wire form: what a producer passes to XADD, field by field. */
export type InputFields = Record<string, string>;

export type DecodedInput =
  | { ok: true; entry: InputEntry }
  | { ok: false; reason: string; requestId?: string; userId?: string; replyTo?: string };

/**
 * Validates one stream entry. Never throws: a malformed entry comes back with the reason and,
 * when they are well-formed, the requestId and userId to address a rejection to.
 */
export function decodeInput(fields: unknown): DecodedInput {
  const record = typeof fields === "object" && fields !== null
    ? fields as Record<string, unknown>
    : {};
  let reason: string;
  if (Object.hasOwn(record, "price")) {
    const parsed = priceOf(record);
    if (typeof parsed !== "string") return { ok: true, entry: parsed };
    reason = parsed;
  } else {
    const parsed = nonPriceEntrySchema.safeParse(fields);
    if (parsed.success) return { ok: true, entry: parsed.data };
    reason = parsed.error.issues.slice(0, 3)
      .map((issue) => `${issue.path.join(".") || "entry"}: ${issue.message}`).join("; ");
  }
  // Whatever is wrong, a well-formed requestId gets its refusal instead of a timeout.
  const requestId = requestIdSchema.safeParse(record.requestId);
  const userId = userIdSchema.safeParse(record.userId);
  const replyTo = replyToSchema.safeParse(record.replyTo);
  return {
    ok: false,
    reason: reason.slice(0, 300),
    ...(requestId.success ? { requestId: requestId.data } : {}),
    ...(userId.success ? { userId: userId.data } : {}),
    ...(replyTo.success ? { replyTo: replyTo.data } : {}),
  };
}

/** The price entry a record with a `price` field holds, or why it is refused. */
function priceOf(record: Record<string, unknown>): PriceEntry | string {
  if (Object.keys(record).length !== 1) return "a price entry has the single field price";
  const value = record.price;
  if (typeof value !== "string") return "price: must be a string";
  return parsePriceValue(value);
}

/**
 * The wire form of an entry: bigints and numbers written in decimal, absent fields left out,
 * a level a `modify` removes (null) as REMOVE_LEVEL.
 */
export function encodeInput(entry: InputEntry): InputFields {
  if (entry.kind === "price") {
    return { price: formatPriceValue(entry.asset, entry.bid, entry.ask, entry.ts) };
  }
  const fields: InputFields = {};
  for (const [name, value] of Object.entries(entry)) {
    if (value !== undefined) fields[name] = value === null ? REMOVE_LEVEL : String(value);
  }
  return fields;
}
