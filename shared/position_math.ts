/**
 * A position's arithmetic, in integers, shared by the engine core and the web page (which
 * previews the liquidation price and shows live PnL with these very functions). Prices are in
 * units of 10^-d USD (d = the asset's priceDecimals), quantities in 10^-8 of the asset, money in
 * cents; price × quantity is in 10^-(d+8) USD, so dividing by 10^(d+6) gives cents. Pure: no
 * clock, randomness or IO (engine/core/purity_test.ts checks it).
 */
import { ASSETS } from "./assets.ts";
import type { Asset } from "./assets.ts";
import { ceilDiv, floorDiv, pow10, QUANTITY_SCALE } from "./money.ts";

export type Side = "long" | "short";

function centsDivisor(asset: Asset): bigint {
  return pow10(ASSETS[asset].priceDecimals + QUANTITY_SCALE - 2);
}

/** floor(margin × leverage / price) in quantity units. */
export function quantityFor(
  asset: Asset,
  marginCents: bigint,
  leverage: number,
  price: bigint,
): bigint {
  return (marginCents * BigInt(leverage) * centsDivisor(asset)) / price;
}

/** Signed profit in cents of closing at `exitPrice`, rounded toward minus infinity. */
export function pnlCents(
  position: { side: Side; entryPrice: bigint; quantity: bigint; asset: Asset },
  exitPrice: bigint,
): bigint {
  const move = position.side === "long"
    ? exitPrice - position.entryPrice
    : position.entryPrice - exitPrice;
  return floorDiv(move * position.quantity, centsDivisor(position.asset));
}

/** Maintenance margin: entry notional × MMR, rounded up in the house's favour. */
export function maintenanceCents(
  asset: Asset,
  entryPrice: bigint,
  quantity: bigint,
  mmrBps: number,
): bigint {
  const notionalCents = (entryPrice * quantity) / centsDivisor(asset);
  return ceilDiv(notionalCents * BigInt(mmrBps), 10_000n);
}

/**
 * The price at which margin + pnl reaches maintenance, fixed at open. Rounded toward the
 * entry so that at the trigger the equity left is still at least the maintenance margin.
 * `maintenanceTimes` 2 gives the margin call's warning price (twice the maintenance).
 */
export function liquidationPrice(
  asset: Asset,
  side: Side,
  entryPrice: bigint,
  quantity: bigint,
  marginCents: bigint,
  mmrBps: number,
  maintenanceTimes = 1n,
): bigint {
  const maintenance = maintenanceCents(asset, entryPrice, quantity, mmrBps) * maintenanceTimes;
  const cushionCents = marginCents - maintenance;
  const move = floorDiv(cushionCents * centsDivisor(asset), quantity);
  if (side === "short") return entryPrice + move;
  const price = entryPrice - move;
  return price > 0n ? price : 0n;
}

/**
 * The margin call's level: where margin + pnl reaches twice the maintenance margin, by the
 * liquidation rule (so a long's is above its liquidation price, a short's below). A position
 * whose margin is under twice its maintenance at open has it on the far side of its entry.
 */
export function warningPrice(
  asset: Asset,
  side: Side,
  entryPrice: bigint,
  quantity: bigint,
  marginCents: bigint,
  mmrBps: number,
): bigint {
  return liquidationPrice(asset, side, entryPrice, quantity, marginCents, mmrBps, 2n);
}

/**
 * The commission on `quantity` traded at `price`: ceil(notional × feeBps / 10000) cents, where
 * the notional is exact (price × quantity in 10^-(d+8) USD, never floored to cents first).
 */
export function feeCents(asset: Asset, price: bigint, quantity: bigint, feeBps: number): bigint {
  if (feeBps === 0) return 0n;
  return ceilDiv(price * quantity * BigInt(feeBps), centsDivisor(asset) * 10_000n);
}

/**
 * The most a pending order's opening fee can be, whatever its fill price: its quantity is
 * floor(margin × leverage / fill), so its notional is at most margin × leverage.
 */
export function maxOpenFeeCents(marginCents: bigint, leverage: number, feeBps: number): bigint {
  return ceilDiv(marginCents * BigInt(leverage) * BigInt(feeBps), 10_000n);
}

/** The quote a position exits at: a long sells at the bid, a short buys at the ask. */
export function exitPrice(side: Side, bid: bigint, ask: bigint): bigint {
  return side === "long" ? bid : ask;
}

/**
 * An account's margin level: equity ÷ locked margin as a percentage with exactly 2 decimals
 * ("1234.56"), rounded toward minus infinity, in integers; null without locked margin (no open
 * position). Equity can be below zero (a position past its liquidation price before its quote).
 */
export function marginLevelPercent(equityCents: bigint, lockedCents: bigint): string | null {
  if (lockedCents <= 0n) return null;
  const hundredths = floorDiv(equityCents * 10_000n, lockedCents);
  const negative = hundredths < 0n;
  const digits = (negative ? -hundredths : hundredths).toString().padStart(3, "0");
  return `${negative ? "-" : ""}${digits.slice(0, -2)}.${digits.slice(-2)}`;
}
