/**
 * Redis stream entry IDs ("<ms>-<seq>"): the engine's only source of time. `readStreamId` is the
 * core's one parser of them: the state machine (`advanceTime`), the snapshot decoder and
 * `compareStreamIds` all read IDs through it.
 */
import { InvariantError } from "./codes.ts";

export interface ParsedId {
  ms: number;
  seq: number;
}

/** Digits each half may have: at most 15, so both are exact as numbers (< 2^53). */
const MAX_DIGITS = 15;
const DASH = 45;

/**
 * Reads `id` into `out` and says whether it is a stream ID: 1–15 digits, "-", 1–15 digits (as
 * /^(\d{1,15})-(\d{1,15})$/). Scanned by hand into a caller's object, because it runs for every
 * entry: a regex match or slice + Number would cost an array or two strings each time. On false
 * `out` holds nothing meaningful.
 */
export function readStreamId(id: string, out: ParsedId): boolean {
  let ms = 0;
  let i = 0;
  let code = id.charCodeAt(0);
  while (code >= 48 && code <= 57) {
    ms = ms * 10 + code - 48;
    code = id.charCodeAt(++i);
  }
  const dash = i;
  if (dash < 1 || dash > MAX_DIGITS || code !== DASH) return false;
  let seq = 0;
  code = id.charCodeAt(++i);
  while (code >= 48 && code <= 57) {
    seq = seq * 10 + code - 48;
    code = id.charCodeAt(++i);
  }
  const seqDigits = i - dash - 1;
  if (i !== id.length || seqDigits < 1 || seqDigits > MAX_DIGITS) return false;
  out.ms = ms;
  out.seq = seq;
  return true;
}

/** The parts of a stream ID, which must be well-formed. */
export function parseStreamId(id: string): ParsedId {
  const parsed = { ms: 0, seq: 0 };
  if (!readStreamId(id, parsed)) malformed(id);
  return parsed;
}

const left: ParsedId = { ms: 0, seq: 0 };
const right: ParsedId = { ms: 0, seq: 0 };

/** -1, 0 or 1 as `a` is before, equal to or after `b` (both must be well-formed). */
export function compareStreamIds(a: string, b: string): number {
  if (!readStreamId(a, left)) malformed(a);
  if (!readStreamId(b, right)) malformed(b);
  if (left.ms !== right.ms) return left.ms < right.ms ? -1 : 1;
  if (left.seq !== right.seq) return left.seq < right.seq ? -1 : 1;
  return 0;
}

function malformed(id: string): never {
  throw new InvariantError(`malformed stream id ${JSON.stringify(id)}`);
}
