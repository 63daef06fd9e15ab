/**
 * Feeds the candle chart: the shown asset and interval's history from `GET /candles`, then its
 * live candles from the `candles.<ASSET>.<interval>` channel. Switching asset or interval leaves
 * the old channel and joins the new one; a history answer for a choice no longer shown is dropped,
 * and the live candles that arrive while the history loads are merged on it when it comes.
 */
import type { Asset } from "@trading/shared/assets";
import { type Api, inWords } from "./api.ts";
import {
  type Candle,
  candleChannel,
  candlesFrom,
  HISTORY_CANDLES,
  type Interval,
  MAX_CANDLES,
  mergeCandle,
  parseCandle,
} from "./candles.ts";
import type { CandleChart } from "./chart.ts";

/** Live candles kept while a history loads: a few seconds of them (at most 4 a second). */
const MAX_EARLY = 100;
/**
 * A history of fewer candles than this is asked again after `RETRY_MS`, at most `RETRIES`
 * times: right after the services start, the candle writer may not have written the feed's
 * backfill yet.
 */
const SHORT_HISTORY = 2;
const RETRY_MS = 5_000;
const RETRIES = 3;

/** Sends a message on the WebSocket when it is open (after a reconnect, `resubscribe` joins). */
export type Send = (message: { type: "subscribe" | "unsubscribe"; channels: string[] }) => void;

export class ChartFeed {
  #asset: Asset | undefined;
  #interval: Interval | undefined;
  #candles: Candle[] = [];
  /** Counts history loads: an answer to an older one is stale. */
  #generation = 0;
  /** Live candles that arrived while the history loads; undefined when none is loading. */
  #early: Candle[] | undefined;
  #retries = 0;

  constructor(
    private readonly api: Api,
    private readonly chart: CandleChart,
    private readonly send: Send,
    private readonly problem: (text: string) => void,
  ) {}

  get channel(): string | undefined {
    return this.#asset && this.#interval && candleChannel(this.#asset, this.#interval);
  }

  /** Shows an asset at an interval (nothing to do when it is already shown). */
  show(asset: Asset, interval: Interval): void {
    if (asset === this.#asset && interval === this.#interval) return;
    const old = this.channel;
    if (old !== undefined) this.send({ type: "unsubscribe", channels: [old] });
    this.#asset = asset;
    this.#interval = interval;
    this.#candles = [];
    this.#retries = 0;
    this.chart.show(asset, interval, []);
    this.send({ type: "subscribe", channels: [this.channel!] });
    this.#load();
  }

  /** Joins the channel again on a new socket; `reload` when live candles may have been missed. */
  resubscribe(reload: boolean): void {
    const channel = this.channel;
    if (channel === undefined) return;
    this.send({ type: "subscribe", channels: [channel] });
    if (reload) this.#load();
  }

  /** A `candle` message: merged when it is the shown asset and interval's. */
  onCandle(message: Record<string, unknown>): void {
    const asset = this.#asset;
    const interval = this.#interval;
    if (asset === undefined || message.asset !== asset || message.interval !== interval) return;
    const candle = parseCandle(asset, interval!, message);
    if (candle === undefined) return;
    if (this.#early !== undefined) {
      this.#early.push(candle);
      if (this.#early.length > MAX_EARLY) this.#early.shift();
      return;
    }
    const full = this.#candles.length >= MAX_CANDLES;
    const merged = mergeCandle(this.#candles, candle);
    this.chart.update(this.#candles, merged, full && merged === "appended");
  }

  async #load(): Promise<void> {
    const generation = ++this.#generation;
    const asset = this.#asset!;
    const interval = this.#interval!;
    this.#early = [];
    let rows: unknown[] = [];
    try {
      const query = `asset=${asset}&interval=${interval}&limit=${HISTORY_CANDLES}`;
      const answer = await this.api.call<{ candles?: unknown }>("GET", `/candles?${query}`);
      // Whatever came back that is not a list of candles is no history, never an exception.
      if (Array.isArray(answer?.candles)) rows = answer.candles;
    } catch (error) {
      if (generation === this.#generation) this.problem(`Chart history: ${inWords(error)}`);
    }
    if (generation !== this.#generation) return; // another asset or interval since
    const candles = candlesFrom(asset, interval, rows);
    for (const candle of this.#early) mergeCandle(candles, candle);
    // Live candles already shown (loaded before a reconnect) that the answer lacks stay.
    for (const candle of this.#candles) mergeCandle(candles, candle);
    this.#early = undefined;
    this.#candles = candles;
    this.chart.show(asset, interval, candles);
    if (rows.length < SHORT_HISTORY && this.#retries < RETRIES) {
      this.#retries++;
      setTimeout(() => generation === this.#generation && this.#load(), RETRY_MS);
    }
  }
}
