/**
 * Entries as Redis returns them: a flat [field, value, ...] reply, as strings or as bytes. This
 * is the engine's hot path (the live loop and every replay decode each entry): prices go through
 * the price scanner (`price.ts`), instructions through a fast path without zod built from the
 * schemas' own patterns and fields, and anything either does not accept goes through
 * `decodeInput`, which words the refusal. Property tests hold each path to the one it stands
 * in for.
 */
import {
  cancelEntrySchema,
  closeAllEntrySchema,
  closeEntrySchema,
  createAccountEntrySchema,
  type DecodedInput,
  decodeInput,
  type InputFields,
  type InstructionEntry,
  modifyEntrySchema,
  openEntrySchema,
  orderTypeProblem,
  queryEntrySchema,
} from "./input.ts";
import {
  AMOUNT_RE,
  ASSET_TEXT_RE,
  BOUNDED_INT_RE,
  EXPIRES_AT_MS,
  FINGERPRINT_RE,
  ID_RE,
  IDEMPOTENCY_KEY_RE,
  type IntRange,
  LEVERAGE,
  OPEN_PAGE_LIMIT,
  ORDER_ID_RE,
  QUERY_SCOPES,
  REMOVE_LEVEL,
  REPLY_TO_RE,
  SLIPPAGE_BPS,
  SMALL_INT_RE,
} from "./patterns.ts";
import { parsePriceBytes, parsePriceValue } from "./price.ts";

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

/** The fields each instruction may have: its schema's. */
const fieldsOf = (schema: { shape: object }): ReadonlySet<string> =>
  new Set(Object.keys(schema.shape));
const OPEN_FIELDS = fieldsOf(openEntrySchema);
const CLOSE_FIELDS = fieldsOf(closeEntrySchema);
const CREATE_ACCOUNT_FIELDS = fieldsOf(createAccountEntrySchema);
const QUERY_FIELDS = fieldsOf(queryEntrySchema);
const CANCEL_FIELDS = fieldsOf(cancelEntrySchema);
const MODIFY_FIELDS = fieldsOf(modifyEntrySchema);
const CLOSE_ALL_FIELDS = fieldsOf(closeAllEntrySchema);
type Scope = typeof QUERY_SCOPES[number];
const isScope = (text: string): text is Scope => (QUERY_SCOPES as readonly string[]).includes(text);

function onlyFields(fields: InputFields, allowed: ReadonlySet<string>): boolean {
  for (const name in fields) if (!allowed.has(name)) return false;
  return true;
}

function positive(text: string | undefined): bigint | undefined {
  if (text === undefined || !AMOUNT_RE.test(text)) return undefined;
  const value = BigInt(text);
  return value > 0n ? value : undefined;
}

/** A non-negative amount (the schemas' `units`), else undefined. */
function unitsOf(text: string): bigint | undefined {
  return AMOUNT_RE.test(text) ? BigInt(text) : undefined;
}

/** A small integer within the range, as the schemas' `smallInt` reads it; else undefined. */
function smallIntIn(text: string, range: IntRange, re = SMALL_INT_RE): number | undefined {
  if (!re.test(text)) return undefined;
  const value = Number(text);
  return value >= range.min && value <= range.max ? value : undefined;
}

/**
 * Instructions without zod, accepting exactly what `instructionEntrySchema` accepts (a
 * property test holds it to that); undefined sends the entry through zod, which words the
 * refusal. Replay and the live loop decode every instruction, so this is on their hot path.
 */
function decodeInstructionFast(f: InputFields): InstructionEntry | undefined {
  const { kind, requestId, userId, replyTo, idempotencyKey, fingerprint } = f;
  if (
    requestId === undefined || userId === undefined || !ID_RE.test(requestId) || !ID_RE.test(userId)
  ) {
    return undefined;
  }
  if (replyTo !== undefined && !REPLY_TO_RE.test(replyTo)) return undefined;
  const addressed = replyTo === undefined ? {} : { replyTo };
  if (kind === "create_account") {
    return onlyFields(f, CREATE_ACCOUNT_FIELDS)
      ? { kind, requestId, userId, ...addressed }
      : undefined;
  }
  if (kind === "query") return decodeQueryFast(f, requestId, userId, addressed);
  if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY_RE.test(idempotencyKey)) return undefined;
  if (fingerprint !== undefined && !FINGERPRINT_RE.test(fingerprint)) return undefined;
  const keyed = {
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    ...(fingerprint === undefined ? {} : { fingerprint }),
  };
  const base: Base = { requestId, userId, ...addressed, ...keyed };
  if (kind === "close" || kind === "cancel") {
    if (!onlyFields(f, kind === "close" ? CLOSE_FIELDS : CANCEL_FIELDS)) return undefined;
    if (f.orderId === undefined || !ORDER_ID_RE.test(f.orderId)) return undefined;
    if (kind === "cancel") return { kind, ...base, orderId: f.orderId };
    if (f.quantity === undefined) return { kind, ...base, orderId: f.orderId };
    const quantity = unitsOf(f.quantity);
    return quantity === undefined ? undefined : { kind, ...base, orderId: f.orderId, quantity };
  }
  if (kind === "modify") return decodeModifyFast(f, base);
  if (kind === "close_all") {
    if (!onlyFields(f, CLOSE_ALL_FIELDS)) return undefined;
    if (f.asset === undefined) return { kind, ...base };
    return ASSET_TEXT_RE.test(f.asset) ? { kind, ...base, asset: f.asset } : undefined;
  }
  if (kind !== "open" || !onlyFields(f, OPEN_FIELDS)) return undefined;
  return decodeOpenFast(f, base);
}

interface Base {
  requestId: string;
  userId: string;
  replyTo?: string;
  idempotencyKey?: string;
  fingerprint?: string;
}

function decodeOpenFast(f: InputFields, base: Base): InstructionEntry | undefined {
  const { asset, side, leverage, orderType } = f;
  if (asset === undefined || !ASSET_TEXT_RE.test(asset) || (side !== "long" && side !== "short")) {
    return undefined;
  }
  if (
    orderType !== undefined && orderType !== "market" && orderType !== "limit" &&
    orderType !== "stop"
  ) {
    return undefined;
  }
  if (leverage === undefined) return undefined;
  const leverageValue = smallIntIn(leverage, LEVERAGE);
  const marginCents = positive(f.marginCents);
  if (leverageValue === undefined || marginCents === undefined) return undefined;
  // Each optional field: absent, or well-formed (a malformed one sends the entry to zod).
  const slippageBps = f.slippageBps === undefined
    ? undefined
    : smallIntIn(f.slippageBps, SLIPPAGE_BPS);
  const expiresAt = f.expiresAt === undefined
    ? undefined
    : smallIntIn(f.expiresAt, EXPIRES_AT_MS, BOUNDED_INT_RE);
  const expectedPrice = positive(f.expectedPrice);
  const triggerPrice = positive(f.triggerPrice);
  const stopLoss = positive(f.stopLoss);
  const takeProfit = positive(f.takeProfit);
  if (
    (f.slippageBps !== undefined && slippageBps === undefined) ||
    (f.expiresAt !== undefined && expiresAt === undefined) ||
    (f.expectedPrice !== undefined && expectedPrice === undefined) ||
    (f.triggerPrice !== undefined && triggerPrice === undefined) ||
    (f.stopLoss !== undefined && stopLoss === undefined) ||
    (f.takeProfit !== undefined && takeProfit === undefined)
  ) {
    return undefined;
  }
  const optional = { orderType, slippageBps, expectedPrice, triggerPrice, expiresAt };
  if (orderTypeProblem(optional) !== undefined) return undefined;
  return {
    kind: "open",
    ...base,
    asset,
    side,
    marginCents,
    leverage: leverageValue,
    ...(orderType === undefined ? {} : { orderType }),
    ...(slippageBps === undefined ? {} : { slippageBps }),
    ...(expectedPrice === undefined ? {} : { expectedPrice }),
    ...(triggerPrice === undefined ? {} : { triggerPrice }),
    ...(expiresAt === undefined ? {} : { expiresAt }),
    ...(stopLoss === undefined ? {} : { stopLoss }),
    ...(takeProfit === undefined ? {} : { takeProfit }),
  };
}

/** A modify's level: REMOVE_LEVEL as null, a positive amount, else undefined (malformed). */
function levelChange(text: string): bigint | null | undefined {
  return text === REMOVE_LEVEL ? null : positive(text);
}

function decodeModifyFast(f: InputFields, base: Base): InstructionEntry | undefined {
  if (!onlyFields(f, MODIFY_FIELDS) || f.orderId === undefined || !ORDER_ID_RE.test(f.orderId)) {
    return undefined;
  }
  if (f.stopLoss === undefined && f.takeProfit === undefined) return undefined;
  const stopLoss = f.stopLoss === undefined ? undefined : levelChange(f.stopLoss);
  const takeProfit = f.takeProfit === undefined ? undefined : levelChange(f.takeProfit);
  if (
    (f.stopLoss !== undefined && stopLoss === undefined) ||
    (f.takeProfit !== undefined && takeProfit === undefined)
  ) {
    return undefined;
  }
  return {
    kind: "modify",
    ...base,
    orderId: f.orderId,
    ...(stopLoss === undefined ? {} : { stopLoss }),
    ...(takeProfit === undefined ? {} : { takeProfit }),
  };
}

function decodeQueryFast(
  f: InputFields,
  requestId: string,
  userId: string,
  addressed: { replyTo?: string },
): InstructionEntry | undefined {
  if (!onlyFields(f, QUERY_FIELDS)) return undefined;
  const { scope, limit, cursor } = f;
  if (scope !== undefined && !isScope(scope)) return undefined;
  if (cursor !== undefined && !ORDER_ID_RE.test(cursor)) return undefined;
  let limitValue: number | undefined;
  if (limit !== undefined) {
    limitValue = smallIntIn(limit, OPEN_PAGE_LIMIT);
    if (limitValue === undefined) return undefined;
  }
  return {
    kind: "query",
    requestId,
    userId,
    ...addressed,
    ...(scope === undefined ? {} : { scope }),
    ...(limitValue === undefined ? {} : { limit: limitValue }),
    ...(cursor === undefined ? {} : { cursor }),
  };
}
