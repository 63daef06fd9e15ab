/**
 * The real engine core behind the EngineGateway interface, in process, for HTTP-layer tests
 * with `app.request()`: no Redis in the loop, but the same state machine answering.
 */
import { type Asset, ASSETS } from "@trading/shared/assets";
import { formatDecimal } from "@trading/shared/money";
import {
  type Answer,
  encodeInput,
  type InputEntry,
  type InstructionEntry,
} from "@trading/shared/schemas";
import { createState, type EngineState } from "../../engine/core/state.ts";
import { applyFields } from "../../engine/core/step.ts";
import type { ApiQuote, EngineGateway, EngineRequest } from "../engine_client.ts";

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

  /** Applies an entry in its wire form, as the engine reads it from engine:input. */
  #apply(entry: InputEntry, id = this.#nextId()) {
    return applyFields(this.state, encodeInput(entry), id);
  }

  send(entry: InstructionEntry): Promise<string> {
    const id = this.#nextId();
    this.#apply(entry, id);
    return Promise.resolve(id);
  }

  request(entry: EngineRequest): Promise<Answer> {
    const requestId = `req-${++this.#request}`;
    const { outputs } = this.#apply({ ...entry, requestId });
    const answer = outputs.find((o) => o.kind === "answer" && o.requestId === requestId);
    return answer ? Promise.resolve(answer as Answer) : Promise.reject(new Error("no answer"));
  }

  setQuote(asset: Asset, bid: bigint, ask: bigint): void {
    this.#apply({ kind: "price", asset, bid, ask, ts: BigInt(this.#ms) * 1000n });
  }

  latestQuote(asset: Asset): ApiQuote | undefined {
    const quote = this.state.quotes.get(asset);
    if (quote === undefined) return undefined;
    const decimals = ASSETS[asset].priceDecimals;
    return {
      bid: formatDecimal(quote.bid, decimals),
      ask: formatDecimal(quote.ask, decimals),
      ts: quote.atMs,
    };
  }

  quotes(): Map<Asset, ApiQuote> {
    const quotes = new Map<Asset, ApiQuote>();
    for (const asset of this.state.quotes.keys()) quotes.set(asset, this.latestQuote(asset)!);
    return quotes;
  }
}
