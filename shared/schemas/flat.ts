/**
 * Entries as Redis returns them: a flat [field, value, ...] reply, as strings or as bytes. This
 * is the engine's hot path (the live loop and every replay decode each entry): prices go through
 * the price scanner (`price.ts`), instructions through a fast path without zod built from the
 * schemas' own patterns and fields, and anything either does not accept goes through
 * `decodeInput`, which words the refusal. Property tests hold each path to the one it stands
 * in for.
 */
import {
  closeEntrySchema,
  createAccountEntrySchema,
  type DecodedInput,
  decodeInput,
  type InputFields,
  type InstructionEntry,
  openEntrySchema,
  queryEntrySchema,
} from "./input.ts";
import {
  AMOUNT_RE,
  ASSET_TEXT_RE,
  FINGERPRINT_RE,
  ID_RE,
  IDEMPOTENCY_KEY_RE,
  type IntRange,
  LEVERAGE,
  OPEN_PAGE_LIMIT,
  ORDER_ID_RE,
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

function onlyFields(fields: InputFields, allowed: ReadonlySet<string>): boolean {
  for (const name in fields) if (!allowed.has(name)) return false;
  return true;
}

function positive(text: string | undefined): bigint | undefined {
  if (text === undefined || !AMOUNT_RE.test(text)) return undefined;
  const value = BigInt(text);
  return value > 0n ? value : undefined;
}

/** A small integer within the range, as the schemas' `smallInt` reads it; else undefined. */
function smallIntIn(text: string, range: IntRange): number | undefined {
  if (!SMALL_INT_RE.test(text)) return undefined;
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
  if (kind === "close") {
    if (!onlyFields(f, CLOSE_FIELDS) || f.orderId === undefined || !ORDER_ID_RE.test(f.orderId)) {
      return undefined;
    }
    return { kind, requestId, userId, ...addressed, ...keyed, orderId: f.orderId };
  }
  if (kind !== "open" || !onlyFields(f, OPEN_FIELDS)) return undefined;
  const { asset, side, leverage, slippageBps, stopLoss, takeProfit } = f;
  if (asset === undefined || !ASSET_TEXT_RE.test(asset) || (side !== "long" && side !== "short")) {
    return undefined;
  }
  if (leverage === undefined || slippageBps === undefined) return undefined;
  const leverageValue = smallIntIn(leverage, LEVERAGE);
  const slippageValue = smallIntIn(slippageBps, SLIPPAGE_BPS);
  if (leverageValue === undefined || slippageValue === undefined) return undefined;
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
    ...addressed,
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
  addressed: { replyTo?: string },
): InstructionEntry | undefined {
  if (!onlyFields(f, QUERY_FIELDS)) return undefined;
  const { scope, limit, cursor } = f;
  if (scope !== undefined && scope !== "balance" && scope !== "open") return undefined;
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
