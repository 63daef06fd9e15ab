/** One raw stream entry through validation and the state machine: what the engine loop runs. */
import type { EngineOutput, PriceEntry } from "@trading/shared/schemas";
import {
  type DecodedInput,
  decodeFlat,
  decodeFlatBytes,
  decodeInput,
} from "@trading/shared/schemas";
import { apply, applyInvalid } from "./apply.ts";
import type { EngineState } from "./state.ts";

export interface Step {
  outputs: readonly EngineOutput[];
  /** The price entry applied, when the entry was a valid one (to forward its quote). */
  price?: PriceEntry;
  /** Why the entry was refused as malformed, for the log; absent when it was valid. */
  invalidReason?: string;
}

export function applyFields(state: EngineState, fields: unknown, id: string): Step {
  return applyDecoded(state, decodeInput(fields), id);
}

/** The same from Redis's flat [field, value, ...] reply. */
export function applyFlat(state: EngineState, flat: readonly string[], id: string): Step {
  return applyDecoded(state, decodeFlat(flat), id);
}

/** The same from the reply read as bytes (the engine's hot path: quotes never become text). */
export function applyFlatBytes(state: EngineState, flat: readonly Uint8Array[], id: string): Step {
  return applyDecoded(state, decodeFlatBytes(flat), id);
}

function applyDecoded(state: EngineState, decoded: DecodedInput, id: string): Step {
  if (decoded.ok) {
    const { entry } = decoded;
    const outputs = apply(state, entry, id);
    if (entry.kind === "price") return { outputs, price: entry };
    return { outputs: addressed(outputs, "replyTo" in entry ? entry.replyTo : undefined) };
  }
  const outputs = applyInvalid(state, id, decoded.reason, decoded.requestId, decoded.userId);
  return { outputs: addressed(outputs, decoded.replyTo), invalidReason: decoded.reason };
}

/**
 * The answer among an instruction's outputs, addressed to the process that asked (its reply
 * stream, shared/redis.ts). Routing only: it is no part of the state, nor of what is remembered
 * for an idempotency key, so a retry through another API process is answered there.
 */
function addressed(
  outputs: readonly EngineOutput[],
  replyTo: string | undefined,
): readonly EngineOutput[] {
  if (replyTo === undefined) return outputs;
  return outputs.map((output) => output.kind === "answer" ? { ...output, replyTo } : output);
}
