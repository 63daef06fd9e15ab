/** Redis stream entry IDs ("<ms>-<seq>"): the engine's only source of time. */
import { invariant } from "./codes.ts";

export interface ParsedId {
  ms: number;
  seq: number;
}

const ID_RE = /^(\d{1,15})-(\d{1,15})$/;

export function parseStreamId(id: string): ParsedId {
  const match = ID_RE.exec(id);
  invariant(match !== null, `malformed stream id ${JSON.stringify(id)}`);
  return { ms: Number(match[1]), seq: Number(match[2]) };
}

/** -1, 0 or 1 as `a` is before, equal to or after `b`. */
export function compareStreamIds(a: string, b: string): number {
  const x = parseStreamId(a);
  const y = parseStreamId(b);
  if (x.ms !== y.ms) return x.ms < y.ms ? -1 : 1;
  if (x.seq !== y.seq) return x.seq < y.seq ? -1 : 1;
  return 0;
}
