/**
 * Applies one XREAD batch to the state and returns the outputs to write, in cause order.
 * Pure apart from the logger: the engine loop, recovery and `deno task replay` share it.
 */
import { type Asset, ASSETS, isAsset } from "@trading/shared/assets";
import { formatDecimal } from "@trading/shared/money";
import type { EngineOutput, PriceOutput } from "@trading/shared/schemas";
import type { Logger } from "@trading/shared/log";
import type { EngineState } from "../core/state.ts";
import { applyFlat, applyFlatBytes } from "../core/step.ts";
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
  entries: readonly (StreamEntryReply | StreamEntryBytes)[],
  suppressThroughId: string,
  log?: Logger,
): BatchResult {
  const outputs: Array<EngineOutput | null> = [];
  // Each asset's latest quote in the batch is forwarded once: its slot is reserved where its
  // entry stands (so outputs stay in cause order) and filled at the end.
  const priceIndex = new Map<Asset, number>();
  const priceId = new Map<Asset, string>();
  let invalid = 0;
  const suppressing = suppressThroughId !== "0-0" &&
    entries.length > 0 && compareStreamIds(idText(entries[0]![0]), suppressThroughId) <= 0;
  for (const [rawId, flat] of entries) {
    const id = idText(rawId);
    const step = typeof flat[0] === "string" || flat.length === 0
      ? applyFlat(state, flat as string[], id)
      : applyFlatBytes(state, flat as Uint8Array[], id);
    if (step.invalidReason !== undefined) {
      invalid++;
      log?.warn("malformed input entry", { id, reason: step.invalidReason });
    }
    if (suppressing && compareStreamIds(id, suppressThroughId) <= 0) continue;
    for (const output of step.outputs) outputs.push(output);
    const asset = step.price?.asset;
    if (asset !== undefined && isAsset(asset)) {
      const previous = priceIndex.get(asset);
      if (previous !== undefined) outputs[previous] = null;
      priceIndex.set(asset, outputs.length);
      priceId.set(asset, id);
      outputs.push(null);
    }
  }
  for (const [asset, index] of priceIndex) {
    outputs[index] = priceOutput(state, asset, priceId.get(asset)!);
  }
  return { outputs: outputs.filter((o): o is EngineOutput => o !== null), invalid };
}

/** A stream entry read with `xreadBuffer` / `xrangeBuffer`: no string made for its fields. */
export type StreamEntryBytes = [Uint8Array, Uint8Array[]];

/** Stream IDs are ASCII digits and one dash. */
export function idText(id: string | Uint8Array): string {
  return typeof id === "string" ? id : String.fromCharCode.apply(null, id as unknown as number[]);
}

function priceOutput(state: EngineState, asset: Asset, id: string): PriceOutput {
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
