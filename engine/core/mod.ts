export { apply, applyInvalid } from "./apply.ts";
export { createState, DEFAULT_PARAMS } from "./state.ts";
export type { Account, EngineParams, EngineQuote, EngineState, Position } from "./state.ts";
export { decodeState, encodeState, hashEncoded, SnapshotError, stateHash } from "./snapshot.ts";
export { compareStreamIds, parseStreamId } from "./stream_id.ts";
export { InvariantError, REFUSAL_MESSAGES } from "./codes.ts";
export { conservationGap, totalsOf } from "./invariants.ts";
export { applyFields, type Step } from "./step.ts";
