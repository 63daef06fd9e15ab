/** Canonical snapshot rows that are encoded once and cached on the state. */
import type { Position } from "./state.ts";

/** A position's canonical row, made once when it opens (positions never change after). */
export function positionRow(x: Position): string {
  return JSON.stringify([
    x.seq,
    x.userId,
    x.asset,
    x.side,
    x.marginCents.toString(),
    x.leverage,
    x.entryPrice.toString(),
    x.quantity.toString(),
    x.liquidationPrice.toString(),
    x.stopLoss === undefined ? null : x.stopLoss.toString(),
    x.takeProfit === undefined ? null : x.takeProfit.toString(),
    x.openedAtMs,
  ]);
}
