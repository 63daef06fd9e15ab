/** Display helpers for the web page: exact money and prices from integers, never floats. */
import { type Asset, ASSETS } from "@trading/shared/assets";
import { formatDecimal, parseDecimal } from "@trading/shared/money";

/** Signed cents as "$1,234.56" / "-$0.50". */
export function usd(cents: bigint): string {
  const negative = cents < 0n;
  const [whole, fraction = "00"] = formatDecimal(negative ? -cents : cents, 2).split(".");
  const grouped = whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${negative ? "-" : ""}$${grouped}.${fraction.padEnd(2, "0")}`;
}

/** A price in the asset's integer units as a decimal string with its full scale. */
export function price(asset: Asset, units: bigint): string {
  const decimals = ASSETS[asset].priceDecimals;
  const [whole, fraction = ""] = formatDecimal(units, decimals).split(".");
  return `${whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}.${fraction.padEnd(decimals, "0")}`;
}

/** A decimal price string from the API as the asset's integer units. */
export function priceUnits(asset: Asset, text: string): bigint {
  return parseDecimal(text, ASSETS[asset].priceDecimals, { allowZero: true });
}

/** What the user typed as dollars ("100", "99.5") in cents, or an error in words. */
export function dollarsToCents(text: string): bigint | string {
  try {
    return parseDecimal(text.trim().replace(/^\$/, "").replaceAll(",", ""), 2);
  } catch {
    return "Margin must be an amount in dollars with at most 2 decimals, like 100 or 99.50.";
  }
}

export function time(ms: number): string {
  return new Date(ms).toLocaleString();
}
