/** One raw stream entry through validation and the state machine: what the engine loop runs. */
import type { EngineOutput } from "@trading/shared/schemas";
import { decodeInput } from "@trading/shared/schemas";
import { apply, applyInvalid } from "./apply.ts";
import type { EngineState } from "./state.ts";

export interface Step {
  outputs: readonly EngineOutput[];
  /** Why the entry was refused as malformed, for the log; absent when it was valid. */
  invalidReason?: string;
}

export function applyFields(state: EngineState, fields: unknown, id: string): Step {
  const decoded = decodeInput(fields);
  if (decoded.ok) return { outputs: apply(state, decoded.entry, id) };
  return {
    outputs: applyInvalid(state, id, decoded.reason, decoded.requestId, decoded.userId),
    invalidReason: decoded.reason,
  };
}
