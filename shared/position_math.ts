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
 */
export function liquidationPrice(
  asset: Asset,
  side: Side,
  entryPrice: bigint,
  quantity: bigint,
  marginCents: bigint,
  mmrBps: number,
): bigint {
  const cushionCents = marginCents - maintenanceCents(asset, entryPrice, quantity, mmrBps);
  const move = floorDiv(cushionCents * centsDivisor(asset), quantity);
  if (side === "short") return entryPrice + move;
  const price = entryPrice - move;
  return price > 0n ? price : 0n;
}

/** The quote a position exits at: a long sells at the bid, a short buys at the ask. */
export function exitPrice(side: Side, bid: bigint, ask: bigint): bigint {
  return side === "long" ? bid : ask;
}
