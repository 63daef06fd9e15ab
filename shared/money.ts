/**
 * Exact decimal <-> integer conversion for prices, quantities and cents.
 *
 * Every amount in the system is an integer count of the smallest unit at a fixed scale
 * (cents are scale 2, quantities scale 8, prices a per-asset scale). Decimal strings from the
 * outside world are parsed exactly or refused; nothing is ever rounded on the way in.
 */

/** Values at or above this bound are refused: they fit a Postgres bigint with room to spare. */
export const MAX_UNITS = 10n ** 18n;

export const QUANTITY_SCALE = 8;

export class DecimalError extends Error {
  override name = "DecimalError";
}

export interface ParseDecimalOptions {
  /** Accept a leading minus sign. Default false. */
  allowNegative?: boolean;
  /** Accept zero. Default true. */
  allowZero?: boolean;
  /** Exclusive upper bound on the absolute scaled value. Default MAX_UNITS. */
  maxUnits?: bigint;
  /**
   * Accept decimals past the scale when they are all zeros ("97000.500" at scale 2 is exactly
   * 9700050n): for an exchange's numbers, which may be padded. Default false.
   */
  allowTrailingZeros?: boolean;
}

const DECIMAL_RE = /^(-?)(\d{1,30})(?:\.(\d{1,30}))?$/;

/**
 * Parses a plain decimal string ("97000.5") into integer units at `scale` (9700050n at scale 2).
 * Refuses exponents, signs other than a leading minus, NaN/Infinity, whitespace, more decimals
 * than the scale, and values past the bound.
 */
export function parseDecimal(
  text: string,
  scale: number,
  options: ParseDecimalOptions = {},
): bigint {
  if (!Number.isInteger(scale) || scale < 0 || scale > 18) {
    throw new DecimalError(`scale must be an integer 0..18, got ${scale}`);
  }
  if (typeof text !== "string") throw new DecimalError("a decimal must be a string");
  const match = DECIMAL_RE.exec(text);
  if (match === null) {
    throw new DecimalError(`"${preview(text)}" is not a plain decimal number`);
  }
  const [, sign = "", whole = ""] = match;
  let fraction = match[3] ?? "";
  if (
    fraction.length > scale && options.allowTrailingZeros && /^0+$/.test(fraction.slice(scale))
  ) {
    fraction = fraction.slice(0, scale);
  }
  if (fraction.length > scale) {
    throw new DecimalError(
      `"${preview(text)}" has ${fraction.length} decimals; at most ${scale} are allowed`,
    );
  }
  const magnitude = BigInt(whole) * 10n ** BigInt(scale) +
    (fraction === "" ? 0n : BigInt(fraction) * 10n ** BigInt(scale - fraction.length));
  const maxUnits = options.maxUnits ?? MAX_UNITS;
  if (magnitude >= maxUnits) throw new DecimalError(`"${preview(text)}" is too large`);
  if (sign === "-" && magnitude !== 0n && !options.allowNegative) {
    throw new DecimalError(`"${preview(text)}" must not be negative`);
  }
  if (magnitude === 0n && options.allowZero === false) {
    throw new DecimalError(`"${preview(text)}" must be greater than zero`);
  }
  return sign === "-" ? -magnitude : magnitude;
}

/** Formats integer units at `scale` as the shortest exact decimal string (9700050n, 2 -> "97000.5"). */
export function formatDecimal(units: bigint, scale: number): string {
  const negative = units < 0n;
  let digits = (negative ? -units : units).toString();
  if (scale === 0) return negative ? "-" + digits : digits;
  if (digits.length <= scale) digits = "0".repeat(scale + 1 - digits.length) + digits;
  // Trim trailing zeros of the fraction by hand: this runs for every price the engine reports.
  let end = digits.length;
  const point = digits.length - scale;
  while (end > point && digits.charCodeAt(end - 1) === 48) end--;
  const text = end === point
    ? digits.slice(0, point)
    : digits.slice(0, point) + "." + digits.slice(point, end);
  return negative ? "-" + text : text;
}

/** Integer division rounded toward minus infinity. */
export function floorDiv(numerator: bigint, denominator: bigint): bigint {
  if (denominator === 0n) throw new RangeError("division by zero");
  const quotient = numerator / denominator;
  const exact = quotient * denominator === numerator;
  return !exact && (numerator < 0n) !== (denominator < 0n) ? quotient - 1n : quotient;
}

/** Integer division rounded toward plus infinity. */
export function ceilDiv(numerator: bigint, denominator: bigint): bigint {
  return -floorDiv(-numerator, denominator);
}

/** A power of ten as bigint, cached for the small exponents the system uses. */
export function pow10(exponent: number): bigint {
  return POW10[exponent] ?? 10n ** BigInt(exponent);
}

const POW10: bigint[] = Array.from({ length: 40 }, (_, i) => 10n ** BigInt(i));

function preview(text: string): string {
  return text.length > 40 ? text.slice(0, 40) + "…" : text;
}
