/**
 * The engine's core in process, fed typed entries at made-up stream IDs: for tests of the
 * layers above it (the API's `app.request()` tests, its bench) that want the real state
 * machine answering without Redis in the loop.
 */
import type { Asset } from "@trading/shared/assets";
import {
  type Answer,
  encodeInput,
  type InputEntry,
  type InstructionEntry,
} from "@trading/shared/schemas";
import { createState, type EngineQuote, type EngineState } from "./core/state.ts";
import { applyFields } from "./core/step.ts";

export class InProcessCore {
  readonly state: EngineState = createState();
  #ms = 1_700_000_000_000;
  #seq = 0;

  /** Advances stream time, as wall time would between entries. */
  tick(ms: number): void {
    this.#ms += ms;
    this.#seq = 0;
  }

  /** Applies an entry in its wire form, as the engine reads it from engine:input; its ID. */
  apply(entry: InputEntry): { id: string; outputs: ReturnType<typeof applyFields>["outputs"] } {
    const id = `${this.#ms}-${this.#seq++}`;
    return { id, outputs: applyFields(this.state, encodeInput(entry), id).outputs };
  }

  /** The answer to an instruction, or undefined if it gave none (a malformed one may not). */
  answer(entry: InstructionEntry): Answer | undefined {
    const answer = this.apply(entry).outputs.find((output) =>
      output.kind === "answer" && output.requestId === entry.requestId
    );
    return answer as Answer | undefined;
  }

  setQuote(asset: Asset, bid: bigint, ask: bigint): void {
    this.apply({ kind: "price", asset, bid, ask, ts: BigInt(this.#ms) * 1000n });
  }

  quote(asset: Asset): EngineQuote | undefined {
    return this.state.quotes.get(asset);
  }

  assets(): Iterable<Asset> {
    return this.state.quotes.keys();
  }
}
