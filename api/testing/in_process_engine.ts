/**
 * The engine's in-process core (`@trading/engine/testing`) behind the EngineGateway interface,
 * for HTTP-layer tests with `app.request()`: no Redis in the loop, the same state machine
 * answering. Only the API's side is here: request IDs and quotes as the API shows them.
 */
import { type Asset, ASSETS } from "@trading/shared/assets";
import { formatDecimal } from "@trading/shared/money";
import type { Answer, InstructionEntry } from "@trading/shared/schemas";
import { InProcessCore } from "@trading/engine/testing";
import type { ApiQuote, EngineGateway, EngineRequest } from "../engine_client.ts";

export class InProcessEngine extends InProcessCore implements EngineGateway {
  #request = 0;

  send(entry: InstructionEntry): Promise<string> {
    return Promise.resolve(this.apply(entry).id);
  }

  request(entry: EngineRequest): Promise<Answer> {
    const answer = this.answer(
      { ...entry, requestId: `req-${++this.#request}` } as InstructionEntry,
    );
    return answer ? Promise.resolve(answer) : Promise.reject(new Error("no answer"));
  }

  latestQuote(asset: Asset): ApiQuote | undefined {
    const quote = this.quote(asset);
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
    for (const asset of this.assets()) quotes.set(asset, this.latestQuote(asset)!);
    return quotes;
  }
}
