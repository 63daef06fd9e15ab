/**
 * The page's candle chart, drawn by lightweight-charts: one asset's candles of the bid at one
 * interval, and each open position's levels as horizontal lines. The chart is given integer price
 * units (exact as numbers: far below 2^53) and labels them with format.ts, so no price is ever a
 * float here. The container's `data-*` attributes say what is shown (the browser test reads them).
 */
import {
  type CandlestickData,
  CandlestickSeries,
  ColorType,
  createChart,
  type IChartApi,
  type IPriceLine,
  type ISeriesApi,
  LineStyle,
  type UTCTimestamp,
} from "lightweight-charts";
import type { Candle, Merged } from "./candles.ts";
import type { LineKind, PositionLine } from "./position_lines.ts";

const LINE_STYLE: Readonly<Record<LineKind, { color: string; lineStyle: LineStyle }>> = {
  entry: { color: "#4c8dff", lineStyle: LineStyle.Solid },
  stopLoss: { color: "#f6465d", lineStyle: LineStyle.Dashed },
  takeProfit: { color: "#2ebd85", lineStyle: LineStyle.Dashed },
  warning: { color: "#f0b90b", lineStyle: LineStyle.Dotted },
  liquidation: { color: "#f6465d", lineStyle: LineStyle.Solid },
};

function bar(candle: Candle): CandlestickData<UTCTimestamp> {
  return {
    time: (candle.t / 1000) as UTCTimestamp,
    open: Number(candle.o),
    high: Number(candle.h),
    low: Number(candle.l),
    close: Number(candle.c),
  };
}

export class CandleChart {
  readonly #chart: IChartApi;
  readonly #series: ISeriesApi<"Candlestick">;
  #lines: IPriceLine[] = [];

  /** `label` writes a price given in the shown asset's integer units. */
  constructor(private readonly container: HTMLElement, label: (units: bigint) => string) {
    this.#chart = createChart(container, {
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: "#0f1217" }, textColor: "#8a93a3" },
      grid: { vertLines: { color: "#1c222b" }, horzLines: { color: "#1c222b" } },
      timeScale: { timeVisible: true, secondsVisible: false, borderColor: "#262c36" },
      rightPriceScale: { borderColor: "#262c36" },
    });
    this.#series = this.#chart.addSeries(CandlestickSeries, {
      upColor: "#2ebd85",
      downColor: "#f6465d",
      wickUpColor: "#2ebd85",
      wickDownColor: "#f6465d",
      borderVisible: false,
      // Ticks at whole units, labelled from their integer value.
      priceFormat: {
        type: "custom",
        minMove: 1,
        formatter: (p: number) => Number.isFinite(p) ? label(BigInt(Math.round(p))) : "",
      },
    });
  }

  /** Shows these candles (a new asset or interval, or a history load). */
  show(asset: string, interval: string, candles: readonly Candle[]): void {
    this.#series.setData(candles.map(bar));
    this.#chart.timeScale().scrollToRealTime();
    Object.assign(this.container.dataset, { asset, interval });
    this.#describe(candles);
  }

  /** Draws what `mergeCandle` did to `candles`: the last candle, or all of them. */
  update(candles: readonly Candle[], merged: Merged, trimmed: boolean): void {
    if (merged === "unchanged") return;
    if (merged === "older" || trimmed) this.#series.setData(candles.map(bar));
    else this.#series.update(bar(candles.at(-1)!));
    this.#describe(candles);
  }

  /** How many candles, from when, and the last one's start and quotes. */
  #describe(candles: readonly Candle[]): void {
    Object.assign(this.container.dataset, {
      candles: String(candles.length),
      first: String(candles[0]?.t ?? ""),
      last: candles.length === 0 ? "" : `${candles.at(-1)!.t}:${candles.at(-1)!.n}`,
    });
  }

  /** Replaces the positions' lines. */
  lines(lines: readonly PositionLine[]): void {
    for (const line of this.#lines) this.#series.removePriceLine(line);
    this.#lines = lines.map((line) =>
      this.#series.createPriceLine({
        price: Number(line.units),
        title: line.title,
        lineWidth: 1,
        axisLabelVisible: true,
        ...LINE_STYLE[line.kind],
      })
    );
    this.container.dataset.lines = lines.map((line) => line.title).join(",");
  }
}
