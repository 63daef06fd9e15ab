/**
 * Entries of `engine:input`, the one ordered stream. On the wire an entry is a flat map of
 * string fields (a Redis stream entry); `decodeInput` validates it into a typed entry whose
 * amounts are bigints. Prices and trigger levels travel as integer units at the asset's scale,
 * margins as integer cents, so the engine never parses a decimal on its hot path.
 */
import { z } from "zod";
import { MAX_UNITS } from "../money.ts";

/** 1–64 printable ASCII characters, as API.md allows for Idempotency-Key. */
export const idempotencyKeySchema = z.string().regex(/^[\x21-\x7e]{1,64}$/, {
  message: "must be 1–64 printable characters",
});
export const requestIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
export const userIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
/** Order IDs are the engine's creation sequence numbers, written in decimal. */
export const orderIdSchema = z.string().regex(/^[1-9][0-9]{0,15}$/);
/**
 * What a keyed request asked for (the API hashes its endpoint and body): a key sent again
 * with another request is refused instead of answering the first one.
 */
export const fingerprintSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
/** Open positions a `query` of scope "open" returns at most, and by default. */
export const OPEN_PAGE_MAX = 500;
export const OPEN_PAGE_DEFAULT = 100;

const MAX_DIGITS = MAX_UNITS.toString().length - 1;
const unsignedIntRe = new RegExp(`^(0|[1-9][0-9]{0,${MAX_DIGITS - 1}})$`);

/** A non-negative integer below MAX_UNITS, written in decimal, as bigint. */
const units = z.string().regex(unsignedIntRe, { message: "must be a non-negative integer" })
  .transform((text) => BigInt(text));
const positiveUnits = units.refine((value) => value > 0n, { message: "must be greater than zero" });
const smallInt = (min: number, max: number) =>
  z.string().regex(/^(0|[1-9][0-9]{0,5})$/, { message: "must be an integer" })
    .transform((text) => Number(text))
    .refine((value) => value >= min && value <= max, { message: `must be ${min}..${max}` });
const boundedInt = (min: number, max: number) =>
  z.string().regex(/^(0|[1-9][0-9]{0,14})$/, { message: "must be an integer" })
    .transform((text) => Number(text))
    .refine((value) => value >= min && value <= max, { message: `must be ${min}..${max}` });
/** Asset symbols are checked by the engine (refusal `unknown_asset`), only shaped here. */
const assetText = z.string().regex(/^[A-Z0-9]{1,10}$/);

/**
 * A price entry is one field, `price`, holding "<ASSET> <bid> <ask> <ts>": bid and ask in
 * integer units at the asset's scale, ts the exchange time in µs. One field instead of five
 * makes the stream several times cheaper to read back (Redis replies one string per field),
 * and prices are nearly all of it.
 */
export interface PriceEntry {
  kind: "price";
  asset: string;
  bid: bigint;
  ask: bigint;
  /** Exchange time of the quote in microseconds (Backpack's `E`); informational only. */
  ts: bigint;
}

const ASSET_TEXT_RE = /^[A-Z0-9]{1,10}$/;

/**
 * The unsigned integer in value[start, end) as unsignedIntRe accepts it (no sign, no leading
 * zero but "0" itself, at most MAX_DIGITS digits), or undefined. Up to 15 digits it is
 * accumulated exactly in a double (< 2^53) and converted once: BigInt of a string is several
 * times slower, and prices are nearly all of the stream.
 */
function unsignedAt(value: string, start: number, end: number): bigint | undefined {
  const length = end - start;
  if (length < 1 || length > MAX_DIGITS) return undefined;
  if (length > 1 && value.charCodeAt(start) === 48) return undefined;
  let small = 0;
  for (let i = start; i < end; i++) {
    const digit = value.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return undefined;
    small = small * 10 + digit;
  }
  return length <= 15 ? BigInt(small) : BigInt(value.slice(start, end));
}

function isAssetText(value: string, end: number): boolean {
  if (end < 1 || end > 10) return false;
  for (let i = 0; i < end; i++) {
    const c = value.charCodeAt(i);
    if (!((c >= 65 && c <= 90) || (c >= 48 && c <= 57))) return false;
  }
  return true;
}

/** Parses the value of a `price` field; a string is the reason it is refused. */
export function parsePriceValue(value: string): PriceEntry | string {
  if (value.length > 80) return "price: too long";
  const first = value.indexOf(" ");
  const second = first < 0 ? -1 : value.indexOf(" ", first + 1);
  const third = second < 0 ? -1 : value.indexOf(" ", second + 1);
  if (third < 0 || value.indexOf(" ", third + 1) >= 0) {
    return 'price: must be "<ASSET> <bid> <ask> <ts>"';
  }
  if (!isAssetText(value, first)) return "price: asset must be 1–10 capitals or digits";
  const bid = unsignedAt(value, first + 1, second);
  const ask = unsignedAt(value, second + 1, third);
  const ts = unsignedAt(value, third + 1, value.length);
  return quoteProblem(bid, ask, ts) ??
    { kind: "price", asset: value.slice(0, first), bid: bid!, ask: ask!, ts: ts! };
}

/** What is wrong with a quote's numbers, if anything (both price parsers end here). */
function quoteProblem(
  bid: bigint | undefined,
  ask: bigint | undefined,
  ts: bigint | undefined,
): string | undefined {
  if (bid === undefined || ask === undefined || ts === undefined) {
    return "price: bid, ask and ts must be non-negative integers";
  }
  if (bid === 0n || ask === 0n) return "price: bid and ask must be greater than zero";
  if (bid > ask) return "price: bid must not exceed ask";
  return undefined;
}

export function formatPriceValue(asset: string, bid: bigint, ask: bigint, ts: bigint): string {
  return `${asset} ${bid} ${ask} ${ts}`;
}

export const createAccountEntrySchema = z.strictObject({
  kind: z.literal("create_account"),
  requestId: requestIdSchema,
  userId: userIdSchema,
});

export const openEntrySchema = z.strictObject({
  kind: z.literal("open"),
  requestId: requestIdSchema,
  userId: userIdSchema,
  idempotencyKey: idempotencyKeySchema.optional(),
  fingerprint: fingerprintSchema.optional(),
  asset: assetText,
  side: z.enum(["long", "short"]),
  marginCents: positiveUnits,
  leverage: smallInt(1, 100),
  slippageBps: smallInt(0, 10_000),
  expectedPrice: positiveUnits,
  stopLoss: positiveUnits.optional(),
  takeProfit: positiveUnits.optional(),
});

export const closeEntrySchema = z.strictObject({
  kind: z.literal("close"),
  requestId: requestIdSchema,
  userId: userIdSchema,
  idempotencyKey: idempotencyKeySchema.optional(),
  fingerprint: fingerprintSchema.optional(),
  orderId: orderIdSchema,
});

/**
 * A read of the user's account, ordered with the trades around it: its money ("balance", the
 * default), or a page of its open positions ("open") after the order ID `cursor`, so no answer
 * is larger than its caller needs.
 */
export const queryEntrySchema = z.strictObject({
  kind: z.literal("query"),
  requestId: requestIdSchema,
  userId: userIdSchema,
  scope: z.enum(["balance", "open"]).optional(),
  limit: smallInt(1, OPEN_PAGE_MAX).optional(),
  cursor: orderIdSchema.optional(),
});

/** Instructions: every entry that is not a price. */
export const instructionEntrySchema = z.discriminatedUnion("kind", [
  createAccountEntrySchema,
  openEntrySchema,
  closeEntrySchema,
  queryEntrySchema,
]);

/**
 * A change of the engine's parameters, written by the engine itself at start when its
 * configuration differs from its state's: in the stream, so a replay changes them at the same
 * place the live engine did. It answers nothing.
 */
export const configureEntrySchema = z.strictObject({
  kind: z.literal("configure"),
  mmrBps: smallInt(1, 99).optional(),
  priceMaxAgeMs: boundedInt(1, 86_400_000).optional(),
  maxOpenPositions: smallInt(1, 10_000).optional(),
  maxPendingOrders: smallInt(1, 10_000).optional(),
});

const nonPriceEntrySchema = z.discriminatedUnion("kind", [
  createAccountEntrySchema,
  openEntrySchema,
  closeEntrySchema,
  queryEntrySchema,
  configureEntrySchema,
]);

export type CreateAccountEntry = z.output<typeof createAccountEntrySchema>;
export type OpenEntry = z.output<typeof openEntrySchema>;
export type CloseEntry = z.output<typeof closeEntrySchema>;
export type QueryEntry = z.output<typeof queryEntrySchema>;
export type InstructionEntry = z.output<typeof instructionEntrySchema>;
export type ConfigureEntry = z.output<typeof configureEntrySchema>;
export type InputEntry = PriceEntry | InstructionEntry | ConfigureEntry;
/** The wire form: what a producer passes to XADD, field by field. */
export type InputFields = Record<string, string>;

export type DecodedInput =
  | { ok: true; entry: InputEntry }
  | { ok: false; reason: string; requestId?: string; userId?: string };

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
    const value = record.price;
    const parsed = Object.keys(record).length !== 1
      ? "a price entry has the single field price"
      : typeof value !== "string"
      ? "price: must be a string"
      : parsePriceValue(value);
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
  return {
    ok: false,
    reason: reason.slice(0, 300),
    ...(requestId.success ? { requestId: requestId.data } : {}),
    ...(userId.success ? { userId: userId.data } : {}),
  };
}

/** Validates an entry straight from Redis's flat [field, value, ...] reply. */
export function decodeFlat(flat: readonly string[]): DecodedInput {
  if (flat.length === 2 && flat[0] === "price") {
    // The hot path: no object, no zod.
    const parsed = parsePriceValue(flat[1]!);
    return typeof parsed === "string" ? { ok: false, reason: parsed } : { ok: true, entry: parsed };
  }
  const fields = fieldsFromArray(flat);
  const fast = decodeInstructionFast(fields);
  return fast === undefined ? decodeInput(fields) : { ok: true, entry: fast };
}

const utf8 = new TextDecoder();
const PRICE_FIELD = new TextEncoder().encode("price");
/** Asset symbols as interned strings, so a quote read as bytes makes no new string. */
const KNOWN_ASSETS = ["BTC", "ETH", "SOL"];

/**
 * decodeFlat for a reply read as bytes (ioredis `xreadBuffer`): the engine's hot path. A price
 * entry is scanned from its bytes without becoming a string; anything else, or a price with a
 * byte outside ASCII, is decoded as UTF-8 (as ioredis would) and goes through decodeFlat, so
 * both give the same answer (a property test holds them to it).
 */
export function decodeFlatBytes(flat: readonly Uint8Array[]): DecodedInput {
  if (flat.length === 2 && sameBytes(flat[0]!, PRICE_FIELD)) {
    const parsed = parsePriceBytes(flat[1]!);
    if (parsed !== undefined) {
      return typeof parsed === "string"
        ? { ok: false, reason: parsed }
        : { ok: true, entry: parsed };
    }
  }
  return decodeFlat(flat.map(textOf));
}

/** UTF-8 bytes as a string; short ASCII (every field of a well-formed instruction) by hand. */
function textOf(bytes: Uint8Array): string {
  if (bytes.length > 64) return utf8.decode(bytes);
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) return utf8.decode(bytes);
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** parsePriceValue on ASCII bytes; undefined (decode it as text instead) for anything else. */
function parsePriceBytes(bytes: Uint8Array): PriceEntry | string | undefined {
  if (bytes.length > 80) return undefined;
  let first = -1;
  let second = -1;
  let third = -1;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (byte >= 0x80) return undefined;
    if (byte !== 32) continue;
    if (first < 0) first = i;
    else if (second < 0) second = i;
    else if (third < 0) third = i;
    else return 'price: must be "<ASSET> <bid> <ask> <ts>"';
  }
  if (third < 0) return 'price: must be "<ASSET> <bid> <ask> <ts>"';
  if (first < 1 || first > 10) return "price: asset must be 1–10 capitals or digits";
  for (let i = 0; i < first; i++) {
    const c = bytes[i]!;
    if (!((c >= 65 && c <= 90) || (c >= 48 && c <= 57))) {
      return "price: asset must be 1–10 capitals or digits";
    }
  }
  const bid = unsignedBytes(bytes, first + 1, second);
  const ask = unsignedBytes(bytes, second + 1, third);
  const ts = unsignedBytes(bytes, third + 1, bytes.length);
  return quoteProblem(bid, ask, ts) ??
    { kind: "price", asset: assetFromBytes(bytes, first), bid: bid!, ask: ask!, ts: ts! };
}

function assetFromBytes(bytes: Uint8Array, end: number): string {
  for (const known of KNOWN_ASSETS) {
    if (known.length !== end) continue;
    let same = true;
    for (let i = 0; i < end && same; i++) same = bytes[i] === known.charCodeAt(i);
    if (same) return known;
  }
  return String.fromCharCode(...bytes.subarray(0, end));
}

/** unsignedAt over ASCII bytes. */
function unsignedBytes(bytes: Uint8Array, start: number, end: number): bigint | undefined {
  const length = end - start;
  if (length < 1 || length > MAX_DIGITS) return undefined;
  if (length > 1 && bytes[start] === 48) return undefined;
  let small = 0;
  for (let i = start; i < end; i++) {
    const digit = bytes[i]! - 48;
    if (digit < 0 || digit > 9) return undefined;
    small = small * 10 + digit;
  }
  return length <= 15 ? BigInt(small) : BigInt(String.fromCharCode(...bytes.subarray(start, end)));
}

const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const KEY_RE = /^[\x21-\x7e]{1,64}$/;
const ORDER_ID_RE = /^[1-9][0-9]{0,15}$/;
const SMALL_INT_RE = /^(0|[1-9][0-9]{0,5})$/;
const FINGERPRINT_RE = /^[A-Za-z0-9_-]{1,64}$/;
const OPEN_FIELDS = new Set([
  "kind",
  "requestId",
  "userId",
  "idempotencyKey",
  "fingerprint",
  "asset",
  "side",
  "marginCents",
  "leverage",
  "slippageBps",
  "expectedPrice",
  "stopLoss",
  "takeProfit",
]);
const CLOSE_FIELDS = new Set([
  "kind",
  "requestId",
  "userId",
  "idempotencyKey",
  "fingerprint",
  "orderId",
]);
const PLAIN_FIELDS = new Set(["kind", "requestId", "userId"]);
const QUERY_FIELDS = new Set(["kind", "requestId", "userId", "scope", "limit", "cursor"]);

function onlyFields(fields: InputFields, allowed: ReadonlySet<string>): boolean {
  for (const name in fields) if (!allowed.has(name)) return false;
  return true;
}

function positive(text: string | undefined): bigint | undefined {
  if (text === undefined || !unsignedIntRe.test(text)) return undefined;
  const value = BigInt(text);
  return value > 0n ? value : undefined;
}

/**
 * Instructions without zod, accepting exactly what `instructionEntrySchema` accepts (a
 * property test holds it to that); undefined sends the entry through zod, which words the
 * refusal. Replay and the live loop decode every instruction, so this is on their hot path.
 */
function decodeInstructionFast(f: InputFields): InstructionEntry | undefined {
  const { kind, requestId, userId, idempotencyKey, fingerprint } = f;
  if (
    requestId === undefined || userId === undefined || !ID_RE.test(requestId) || !ID_RE.test(userId)
  ) {
    return undefined;
  }
  if (kind === "create_account") {
    return onlyFields(f, PLAIN_FIELDS) ? { kind, requestId, userId } : undefined;
  }
  if (kind === "query") return decodeQueryFast(f, requestId, userId);
  if (idempotencyKey !== undefined && !KEY_RE.test(idempotencyKey)) return undefined;
  if (fingerprint !== undefined && !FINGERPRINT_RE.test(fingerprint)) return undefined;
  const keyed = {
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    ...(fingerprint === undefined ? {} : { fingerprint }),
  };
  if (kind === "close") {
    if (!onlyFields(f, CLOSE_FIELDS) || f.orderId === undefined || !ORDER_ID_RE.test(f.orderId)) {
      return undefined;
    }
    return { kind, requestId, userId, ...keyed, orderId: f.orderId };
  }
  if (kind !== "open" || !onlyFields(f, OPEN_FIELDS)) return undefined;
  const { asset, side, leverage, slippageBps, stopLoss, takeProfit } = f;
  if (asset === undefined || !ASSET_TEXT_RE.test(asset) || (side !== "long" && side !== "short")) {
    return undefined;
  }
  if (leverage === undefined || slippageBps === undefined) return undefined;
  if (!SMALL_INT_RE.test(leverage) || !SMALL_INT_RE.test(slippageBps)) return undefined;
  const leverageValue = Number(leverage);
  const slippageValue = Number(slippageBps);
  if (leverageValue < 1 || leverageValue > 100 || slippageValue > 10_000) return undefined;
  const marginCents = positive(f.marginCents);
  const expectedPrice = positive(f.expectedPrice);
  const stopLossValue = positive(stopLoss);
  const takeProfitValue = positive(takeProfit);
  if (marginCents === undefined || expectedPrice === undefined) return undefined;
  if (
    (stopLoss !== undefined && stopLossValue === undefined) ||
    (takeProfit !== undefined && takeProfitValue === undefined)
  ) {
    return undefined;
  }
  return {
    kind,
    requestId,
    userId,
    ...keyed,
    asset,
    side,
    marginCents,
    leverage: leverageValue,
    slippageBps: slippageValue,
    expectedPrice,
    ...(stopLossValue === undefined ? {} : { stopLoss: stopLossValue }),
    ...(takeProfitValue === undefined ? {} : { takeProfit: takeProfitValue }),
  };
}

function decodeQueryFast(
  f: InputFields,
  requestId: string,
  userId: string,
): InstructionEntry | undefined {
  if (!onlyFields(f, QUERY_FIELDS)) return undefined;
  const { scope, limit, cursor } = f;
  if (scope !== undefined && scope !== "balance" && scope !== "open") return undefined;
  if (cursor !== undefined && !ORDER_ID_RE.test(cursor)) return undefined;
  let limitValue: number | undefined;
  if (limit !== undefined) {
    if (!SMALL_INT_RE.test(limit)) return undefined;
    limitValue = Number(limit);
    if (limitValue < 1 || limitValue > OPEN_PAGE_MAX) return undefined;
  }
  return {
    kind: "query",
    requestId,
    userId,
    ...(scope === undefined ? {} : { scope }),
    ...(limitValue === undefined ? {} : { limit: limitValue }),
    ...(cursor === undefined ? {} : { cursor }),
  };
}

/** Redis returns an entry's fields as a flat [field, value, ...] array; this makes the map. */
export function fieldsFromArray(flat: readonly string[]): InputFields {
  const fields: InputFields = {};
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!;
    // A repeated field makes the entry invalid rather than letting either value win.
    const value = Object.hasOwn(fields, name) ? "\u0000duplicate" : flat[i + 1]!;
    if (name === "__proto__") {
      // defineProperty: a field named "__proto__" must stay a field, not become a prototype.
      // Only then: defineProperty on every field cost ~6 µs an instruction, 15x assignment.
      Object.defineProperty(fields, name, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else {
      fields[name] = value;
    }
  }
  return fields;
}

/** The wire form of an entry: bigints and numbers written in decimal, absent fields left out. */
export function encodeInput(entry: InputEntry): InputFields {
  if (entry.kind === "price") {
    return { price: formatPriceValue(entry.asset, entry.bid, entry.ask, entry.ts) };
  }
  const fields: InputFields = {};
  for (const [name, value] of Object.entries(entry)) {
    if (value !== undefined) fields[name] = String(value);
  }
  return fields;
}
