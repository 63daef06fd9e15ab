/**
 * The order ticket's values, read from its fields and checked as the API will check them, and the
 * preview of what it would open, with the engine's own integer functions.
 */
import { type Asset } from "@trading/shared/assets";
import {
  feeCents,
  liquidationPrice,
  maxOpenFeeCents,
  quantityFor,
  type Side,
} from "@trading/shared/position_math";
import { dollarsToCents, price, priceUnits, usd } from "./format.ts";
import { typedPrice } from "./orders.ts";

export type OrderKind = "market" | "limit" | "stop";

const field = (id: string) => (document.getElementById(id) as HTMLInputElement).value;

/**
 * What the ticket says, checked as the API will check it; a string is the first problem.
 * `example` is a price of the asset to show in a message (its bid), when there is one.
 */
export function readTicket(kind: OrderKind, example: (asset: Asset) => bigint | undefined) {
  const asset = field("asset") as Asset;
  const margin = dollarsToCents(field("margin"));
  if (typeof margin === "string") return margin;
  if (margin < 100n) return "Margin must be at least $1.00.";
  const leverage = Number(field("leverage"));
  if (!Number.isInteger(leverage) || leverage < 1 || leverage > 100) {
    return "Leverage must be a whole number from 1 to 100.";
  }
  const levels: { stopLoss?: string; takeProfit?: string } = {};
  for (const [id, words] of [["stopLoss", "Stop-loss"], ["takeProfit", "Take-profit"]] as const) {
    const typed = typedPrice(asset, field(id), words, example(asset));
    if (typeof typed === "object") return typed.error;
    if (typed !== undefined) levels[id] = typed;
  }
  if (kind === "market") {
    const slippage = Number(field("slippage"));
    if (!Number.isInteger(slippage) || slippage < 0 || slippage > 10_000) {
      return "Slippage must be a whole number of basis points from 0 to 10000.";
    }
    return { asset, margin, leverage, slippage, ...levels };
  }
  const triggerPrice = typedPrice(asset, field("triggerPrice"), "The trigger", example(asset));
  if (triggerPrice === undefined) return `A ${kind} order needs a trigger price.`;
  if (typeof triggerPrice === "object") return triggerPrice.error;
  const minutesText = field("expiresIn").trim();
  const minutes = Number(minutesText);
  if (minutesText !== "" && (!/^\d+$/.test(minutesText) || minutes < 1 || minutes > 525_600)) {
    return "Expiry must be a whole number of minutes from 1 to 525600, or empty for never.";
  }
  // Stream time is the engine's clock: Redis's, close to this one.
  const expiry = minutesText === "" ? {} : { expiresAt: Date.now() + minutes * 60_000 };
  return { asset, margin, leverage, orderType: kind, triggerPrice, ...levels, ...expiry };
}

export type Ticket = Exclude<ReturnType<typeof readTicket>, string>;

/**
 * What the ticket would open at this quote: entry, size and liquidation price rows, and with fees
 * the commission the open takes from the balance besides the margin (a pending order reserves the
 * most it can be), or why it cannot. A limit or stop fills at its trigger price at best: it is
 * previewed there. The engine's own integer functions, so the preview is what the engine does.
 */
export function previewRows(
  values: Ticket,
  side: Side,
  quote: { bid: bigint; ask: bigint },
  mmrBps: number,
  feeBps = 0,
): Array<[string, string]> | string {
  const pending = "triggerPrice" in values;
  const entry = pending
    ? priceUnits(values.asset, values.triggerPrice)
    : side === "long"
    ? quote.ask
    : quote.bid;
  const quantity = quantityFor(values.asset, values.margin, values.leverage, entry);
  if (quantity === 0n) return "The position would be too small.";
  const liquidation = liquidationPrice(values.asset, side, entry, quantity, values.margin, mmrBps);
  const rows: Array<[string, string]> = [
    [pending ? "Entry (at the trigger)" : "Entry (now)", price(values.asset, entry)],
    ["Position size", usd(values.margin * BigInt(values.leverage))],
    ["Liquidation price", price(values.asset, liquidation)],
  ];
  if (feeBps > 0) {
    rows.push(
      pending
        ? ["Fee (reserved, at most)", usd(maxOpenFeeCents(values.margin, values.leverage, feeBps))]
        : ["Fee", usd(feeCents(values.asset, entry, quantity, feeBps))],
    );
  }
  return rows;
}
