/**
 * Applies one XREAD batch to the state and returns the outputs to write, in cause order.
 * Pure apart from the logger: the engine loop, recovery and `deno task replay` share it.
 */
import { ASSETS, isAsset } from "@trading/shared/assets";
import { formatDecimal } from "@trading/shared/money";
import type { EngineOutput, PriceOutput } from "@trading/shared/schemas";
import { fieldsFromArray } from "@trading/shared/schemas";
import type { Logger } from "@trading/shared/log";
import type { EngineState } from "../core/state.ts";
import { applyFields } from "../core/step.ts";
import { compareStreamIds } from "../core/stream_id.ts";
import type { StreamEntryReply } from "@trading/shared/redis";

export interface BatchResult {
  outputs: EngineOutput[];
  invalid: number;
}

/**
 * `suppressThroughId`: outputs whose cause is at or before it were already written before a
 * crash and are dropped. Each asset's latest quote in the batch is forwarded once, at the
 * position of its entry, so outputs stay ordered by cause.
 */
export function applyBatch(
  state: EngineState,
  entries: readonly StreamEntryReply[],
  suppressThroughId: string,
  log?: Logger,
): BatchResult {
  const outputs: Array<EngineOutput | null> = [];
  const priceSlot = new Map<string, number>();
  let invalid = 0;
  const suppressing = suppressThroughId !== "0-0" &&
    entries.length > 0 && compareStreamIds(entries[0]![0], suppressThroughId) <= 0;
  for (const [id, flat] of entries) {
    const fields = fieldsFromArray(flat);
    const step = applyFields(state, fields, id);
    if (step.invalidReason !== undefined) {
      invalid++;
      log?.warn("malformed input entry", { id, reason: step.invalidReason, kind: fields.kind });
    }
    if (suppressing && compareStreamIds(id, suppressThroughId) <= 0) continue;
    for (const output of step.outputs) outputs.push(output);
    if (step.invalidReason === undefined && fields.kind === "price" && isAsset(fields.asset)) {
      const previous = priceSlot.get(fields.asset);
      if (previous !== undefined) outputs[previous] = null;
      priceSlot.set(fields.asset, outputs.length);
      outputs.push(priceOutput(state, fields.asset, id));
    }
  }
  return { outputs: outputs.filter((o): o is EngineOutput => o !== null), invalid };
}

function priceOutput(state: EngineState, asset: keyof typeof ASSETS, id: string): PriceOutput {
  const quote = state.quotes.get(asset)!;
  const decimals = ASSETS[asset].priceDecimals;
  return {
    kind: "price",
    cause: id,
    asset,
    bid: formatDecimal(quote.bid, decimals),
    ask: formatDecimal(quote.ask, decimals),
    ts: Number(quote.exchangeTsUs / 1000n),
  };
}
