/**
 * The wire format of a price entry: one field, `price`, holding "<ASSET> <bid> <ask> <ts>". Bid
 * and ask are integer units at the asset's scale, ts the exchange time in µs. One field instead
 * of five makes the stream several times cheaper to read back (Redis replies one string per
 * field), and prices are nearly all of it.
 *
 * One scanner reads it, from bytes: a reply read as bytes is scanned where it lies, and a string
 * is first copied into a reused buffer. Prices are nearly all of the stream, so a quote of a
 * traded asset costs no regex match, no array and no string, only its entry and three bigints.
 */
import { ASSET_SYMBOLS } from "../assets.ts";
import { MAX_AMOUNT_DIGITS } from "./patterns.ts";

export interface PriceEntry {
  kind: "price";
  asset: string;
  bid: bigint;
  ask: bigint;
  /** Exchange time of the quote in microseconds (Backpack's `E`); informational only. */
  ts: bigint;
}

export function formatPriceValue(asset: string, bid: bigint, ask: bigint, ts: bigint): string {
  return `${asset} ${bid} ${ask} ${ts}`;
}

/** A longer value is refused before it is scanned. */
const MAX_LENGTH = 80;
const SPACE = 32;
/** What a non-ASCII character of a string becomes: like it, valid nowhere in a quote. */
const NOT_ASCII = 0x7f;
const SHAPE = 'price: must be "<ASSET> <bid> <ask> <ts>"';
const BAD_ASSET = "price: asset must be 1–10 capitals or digits";
const ASSET_MAX_LENGTH = 10;
/** Digits a double holds exactly (10^15 < 2^53), and their scale. */
const EXACT_DIGITS = 15;
const EXACT_SCALE = 10n ** 15n;

/** Where a string's characters are copied to be scanned (one value at a time, synchronously). */
const scratch = new Uint8Array(MAX_LENGTH);

/** Parses the value of a `price` field; a string is the reason it is refused. */
export function parsePriceValue(value: string): PriceEntry | string {
  const length = value.length;
  if (length > MAX_LENGTH) return "price: too long";
  for (let i = 0; i < length; i++) {
    const code = value.charCodeAt(i);
    scratch[i] = code < 0x80 ? code : NOT_ASCII;
  }
  // Never undefined: the scratch holds only ASCII.
  return scanQuote(scratch, length)!;
}

/**
 * parsePriceValue on the value's UTF-8 bytes, with the same answer; undefined when they are
 * better decoded as text first (longer than a valid value, or not all ASCII).
 */
export function parsePriceBytes(bytes: Uint8Array): PriceEntry | string | undefined {
  if (bytes.length > MAX_LENGTH) return undefined;
  return scanQuote(bytes, bytes.length);
}

/** The quote in codes[0, length); undefined at a byte outside ASCII. */
function scanQuote(codes: Uint8Array, length: number): PriceEntry | string | undefined {
  let first = -1;
  let second = -1;
  let third = -1;
  for (let i = 0; i < length; i++) {
    const code = codes[i]!;
    if (code >= 0x80) return undefined;
    if (code !== SPACE) continue;
    if (first < 0) first = i;
    else if (second < 0) second = i;
    else if (third < 0) third = i;
    else return SHAPE;
  }
  if (third < 0) return SHAPE;
  if (first < 1 || first > ASSET_MAX_LENGTH) return BAD_ASSET;
  for (let i = 0; i < first; i++) {
    const c = codes[i]!;
    if (!((c >= 65 && c <= 90) || (c >= 48 && c <= 57))) return BAD_ASSET;
  }
  const bid = unsignedAt(codes, first + 1, second);
  const ask = unsignedAt(codes, second + 1, third);
  const ts = unsignedAt(codes, third + 1, length);
  if (bid === undefined || ask === undefined || ts === undefined) {
    return "price: bid, ask and ts must be non-negative integers";
  }
  if (bid === 0n || ask === 0n) return "price: bid and ask must be greater than zero";
  if (bid > ask) return "price: bid must not exceed ask";
  return { kind: "price", asset: assetAt(codes, first), bid, ask, ts };
}

/**
 * The unsigned integer in codes[start, end) as AMOUNT_RE accepts it (no sign, no leading zero
 * but "0" itself, at most MAX_AMOUNT_DIGITS digits), or undefined. Its last 15 digits and those
 * before them are each accumulated exactly in a double (< 2^53) and converted once: BigInt of a
 * string is several times slower, and every quote's ts has 16 digits.
 */
function unsignedAt(codes: Uint8Array, start: number, end: number): bigint | undefined {
  const length = end - start;
  if (length < 1 || length > MAX_AMOUNT_DIGITS) return undefined;
  if (length > 1 && codes[start] === 48) return undefined;
  const split = length > EXACT_DIGITS ? end - EXACT_DIGITS : start;
  let high = 0;
  for (let i = start; i < split; i++) {
    const digit = codes[i]! - 48;
    if (digit < 0 || digit > 9) return undefined;
    high = high * 10 + digit;
  }
  let low = 0;
  for (let i = split; i < end; i++) {
    const digit = codes[i]! - 48;
    if (digit < 0 || digit > 9) return undefined;
    low = low * 10 + digit;
  }
  return split === start ? BigInt(low) : BigInt(high) * EXACT_SCALE + BigInt(low);
}

/** The asset symbol in codes[0, end): a traded one as its interned string, so no new string. */
function assetAt(codes: Uint8Array, end: number): string {
  for (const known of ASSET_SYMBOLS) {
    if (known.length !== end) continue;
    let same = true;
    for (let i = 0; i < end && same; i++) same = codes[i] === known.charCodeAt(i);
    if (same) return known;
  }
  return String.fromCharCode(...codes.subarray(0, end));
}
