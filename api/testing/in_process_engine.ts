/**
 * The real engine core behind the EngineGateway interface, in process, for HTTP-layer tests
 * with `app.request()`: no Redis in the loop, but the same state machine answering.
 */
import { type Asset, ASSETS } from "@trading/shared/assets";
import { formatDecimal } from "@trading/shared/money";
import { type Answer, formatPriceValue, type InputFields } from "@trading/shared/schemas";
import { createState, type EngineState } from "../../engine/core/state.ts";
import { applyFields } from "../../engine/core/step.ts";
import type { EngineGateway, Quote } from "../engine_client.ts";

export class InProcessEngine implements EngineGateway {
  readonly state: EngineState = createState();
  #ms = 1_700_000_000_000;
  #seq = 0;
  #request = 0;

  /** Advances stream time, as wall time would between entries. */
  tick(ms: number): void {
    this.#ms += ms;
    this.#seq = 0;
  }

  #nextId(): string {
    return `${this.#ms}-${this.#seq++}`;
  }

  send(fields: InputFields): Promise<string> {
    const id = this.#nextId();
    applyFields(this.state, fields, id);
    return Promise.resolve(id);
  }

  request(fields: InputFields): Promise<Answer> {
    const requestId = `req-${++this.#request}`;
    const { outputs } = applyFields(this.state, { ...fields, requestId }, this.#nextId());
    const answer = outputs.find((o) => o.kind === "answer" && o.requestId === requestId);
    return answer ? Promise.resolve(answer as Answer) : Promise.reject(new Error("no answer"));
  }

  setQuote(asset: Asset, bid: bigint, ask: bigint): void {
    const ts = BigInt(this.#ms) * 1000n;
    applyFields(this.state, { price: formatPriceValue(asset, bid, ask, ts) }, this.#nextId());
  }

  latestQuote(asset: Asset): Quote | undefined {
    const quote = this.state.quotes.get(asset);
    if (quote === undefined) return undefined;
    const decimals = ASSETS[asset].priceDecimals;
    return {
      bid: formatDecimal(quote.bid, decimals),
      ask: formatDecimal(quote.ask, decimals),
      ts: quote.atMs,
    };
  }

  quotes(): Map<Asset, Quote> {
    const quotes = new Map<Asset, Quote>();
    for (const asset of this.state.quotes.keys()) quotes.set(asset, this.latestQuote(asset)!);
    return quotes;
  }
}
