/**
 * The shapes and ranges of `engine:input`'s text fields, each defined once. The zod schemas
 * (`input.ts`), the instruction fast path (`flat.ts`) and the API's request schemas all use these
 * same constants, so what one accepts the others accept.
 */
import { MAX_UNITS } from "../money.ts";

/** A requestId or userId: 1–64 of [A-Za-z0-9_-]. */
export const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** An Idempotency-Key: 1–64 printable ASCII characters (docs/design.md, Idempotency). */
export const IDEMPOTENCY_KEY_RE = /^[\x21-\x7e]{1,64}$/;
/** An API process's id (`API_ID`), which names its reply stream. */
export const REPLY_TO_RE = /^[A-Za-z0-9_-]{1,40}$/;
/** An order ID: the engine's creation sequence number in decimal (below 2^53). */
export const ORDER_ID_RE = /^[1-9][0-9]{0,15}$/;
/** A request's fingerprint (the API's hash of its endpoint and body): an ID's shape. */
export const FINGERPRINT_RE = ID_RE;
/** An asset symbol as the input shapes it; the engine refuses unknown ones (`unknown_asset`). */
export const ASSET_TEXT_RE = /^[A-Z0-9]{1,10}$/;

/** Digits of the largest amount: amounts are below MAX_UNITS (10^18), so at most 18. */
export const MAX_AMOUNT_DIGITS = MAX_UNITS.toString().length - 1;
/** An amount (cents, price units): a non-negative integer below MAX_UNITS, no leading zero. */
export const AMOUNT_RE = new RegExp(`^(0|[1-9][0-9]{0,${MAX_AMOUNT_DIGITS - 1}})$`);
/** A small count (leverage, basis points, a page size, a cap): at most 6 digits. */
export const SMALL_INT_RE = /^(0|[1-9][0-9]{0,5})$/;
/** A larger count (a duration in ms): at most 15 digits, so exact as a number. */
export const BOUNDED_INT_RE = /^(0|[1-9][0-9]{0,14})$/;

/** An inclusive range of integers. */
export interface IntRange {
  readonly min: number;
  readonly max: number;
}

export const LEVERAGE: IntRange = { min: 1, max: 100 };
/** A pending order's `expiresAt`: ms since the epoch in stream time, exact as a number. */
export const EXPIRES_AT_MS: IntRange = { min: 1, max: 999_999_999_999_999 };
/** How an `open` fills: at once ("market", the default) or when its trigger price is crossed. */
export const ORDER_TYPES = ["market", "limit", "stop"] as const;
/**
 * A `modify` field that removes a stop-loss or take-profit: the empty string. (Stream fields
 * are strings, so "remove" needs a value of its own; absent means "leave as it is".)
 */
export const REMOVE_LEVEL = "";
export const SLIPPAGE_BPS: IntRange = { min: 0, max: 10_000 };
/** The commission rate (`FEE_BPS`): up to 10 % of the notional. */
export const FEE_BPS: IntRange = { min: 0, max: 1_000 };
/** Items a paged `query` ("open", "pending", "orders_history") returns at most, and by default. */
export const OPEN_PAGE_MAX = 500;
export const OPEN_PAGE_DEFAULT = 100;
export const OPEN_PAGE_LIMIT: IntRange = { min: 1, max: OPEN_PAGE_MAX };
/** What a `query` reads: money, or a page of open positions, pending orders or ended orders. */
export const QUERY_SCOPES = ["balance", "open", "pending", "orders_history"] as const;
