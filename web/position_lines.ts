/**
 * The horizontal lines the chart draws for each open position of the shown asset: its entry,
 * stop-loss, take-profit, margin-call warning and liquidation prices, in integer price units.
 * Pure: chart.ts draws them.
 */
import type { Asset } from "@trading/shared/assets";
import { priceUnits } from "./format.ts";
import type { OpenTrade } from "./orders.ts";

export type LineKind = "entry" | "stopLoss" | "takeProfit" | "warning" | "liquidation";

export interface PositionLine {
  orderId: string;
  kind: LineKind;
  /** The line's label on the price axis, e.g. "#7 SL". */
  title: string;
  units: bigint;
}

const LABELS: Readonly<Record<LineKind, string>> = {
  entry: "entry",
  stopLoss: "SL",
  takeProfit: "TP",
  warning: "margin call",
  liquidation: "liq.",
};

/** At most this many positions get lines: a chart with 200 positions' lines would be noise. */
export const MAX_LINED_POSITIONS = 20;

/**
 * The lines of the positions of `asset`, the most recent `MAX_LINED_POSITIONS` of them (the
 * trades come in orderId order), each position's in the order entry, SL, TP, warning,
 * liquidation. A level that does not parse, or is 0, is left out.
 */
export function positionLines(trades: readonly OpenTrade[], asset: Asset): PositionLine[] {
  const lines: PositionLine[] = [];
  const shown = trades.filter((trade) => trade.asset === asset).slice(-MAX_LINED_POSITIONS);
  for (const trade of shown) {
    const levels: Array<[LineKind, string | undefined]> = [
      ["entry", trade.openPrice],
      ["stopLoss", trade.stopLoss],
      ["takeProfit", trade.takeProfit],
      ["warning", trade.warningPrice],
      ["liquidation", trade.liquidationPrice],
    ];
    for (const [kind, text] of levels) {
      if (text === undefined || text === null) continue;
      let units: bigint;
      try {
        units = priceUnits(asset, String(text));
      } catch {
        continue;
      }
      if (units <= 0n) continue; // a 1× long's liquidation at 0: no line to draw
      lines.push({
        orderId: trade.orderId,
        kind,
        title: `#${trade.orderId} ${LABELS[kind]}`,
        units,
      });
    }
  }
  return lines;
}
