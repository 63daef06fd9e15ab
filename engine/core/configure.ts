/**
 * Parameter changes as stream entries. The engine's parameters are part of its state (in every
 * snapshot), so a replay decides exactly as the live engine did; a changed configuration is
 * written into the stream by the engine at start and takes effect at that place, for the live
 * engine and every replay alike.
 */
import type { ConfigureEntry } from "@trading/shared/schemas";
import type { EngineParams } from "./state.ts";

/** The parameters a configuration may change (the others are fixed for a stream's life). */
export const CONFIGURABLE = [
  "mmrBps",
  "priceMaxAgeMs",
  "maxOpenPositions",
  "maxPendingOrders",
  "feeBps",
] as const satisfies ReadonlyArray<keyof EngineParams & keyof ConfigureEntry>;

/** The entry that takes `current` to `wanted`, or undefined when they agree. */
export function configureEntryFor(
  current: EngineParams,
  wanted: EngineParams,
): ConfigureEntry | undefined {
  const entry: ConfigureEntry = { kind: "configure" };
  let changed = false;
  for (const name of CONFIGURABLE) {
    if (current[name] === wanted[name]) continue;
    entry[name] = wanted[name];
    changed = true;
  }
  return changed ? entry : undefined;
}

/**
 * New parameters from here on. What exists stays as it was made: positions keep their
 * liquidation price, and an account over a lowered cap keeps what it holds but opens no more.
 */
export function applyConfigure(params: EngineParams, entry: ConfigureEntry): EngineParams {
  const next = { ...params };
  for (const name of CONFIGURABLE) {
    const value = entry[name];
    if (value !== undefined) next[name] = value;
  }
  return next;
}
