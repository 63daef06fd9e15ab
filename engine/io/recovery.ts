/**
 * Start-up: the newest snapshot whose hash verifies (or an empty state), and a check that the
 * input stream still holds every entry after it. A gap is a loud failure, never a silent skip.
 * Also the conservation check the engine runs after catching up and after each snapshot.
 */
import type { Logger } from "@trading/shared/log";
import { INPUT_STREAM, type RedisClient } from "@trading/shared/redis";
import { conservationGap, totalsOf } from "../core/invariants.ts";
import { createState, DEFAULT_PARAMS, type EngineState } from "../core/state.ts";
import { compareStreamIds } from "../core/stream_id.ts";
import type { SnapshotStore } from "./snapshots.ts";

export class StreamGapError extends Error {
  override name = "StreamGapError";
}

export interface Recovered {
  state: EngineState;
  snapshotId: string | undefined;
}

/**
 * The newest snapshot that verifies, or a new state with the default parameters: a stream's
 * parameters are set by its `configure` entries (see core/configure.ts), never by the
 * environment of whichever process replays it.
 */
export async function loadStartingState(store: SnapshotStore, log: Logger): Promise<Recovered> {
  const snapshot = await store.loadNewestValid();
  if (snapshot === undefined) {
    log.info("no snapshot: replaying the input stream from its start");
    return { state: createState(DEFAULT_PARAMS), snapshotId: undefined };
  }
  log.info("snapshot loaded", {
    id: snapshot.id,
    lastId: snapshot.lastId,
    hash: snapshot.stateHash,
  });
  return { state: snapshot.state, snapshotId: snapshot.id };
}

/** Throws StreamGapError when entries after `afterId` were trimmed from engine:input. */
export async function assertNoGap(redis: RedisClient, afterId: string): Promise<void> {
  let info: unknown[];
  try {
    info = await redis.xinfo("STREAM", INPUT_STREAM) as unknown[];
  } catch (error) {
    if (String(error).includes("no such key")) return;
    throw error;
  }
  const fields = new Map<string, unknown>();
  for (let i = 0; i + 1 < info.length; i += 2) fields.set(String(info[i]), info[i + 1]);
  // XDEL records the largest ID it removed; XTRIM does not, but it only ever removes a prefix:
  // if entries were removed and the oldest left is past `afterId`, some of those were needed.
  const maxDeleted = String(fields.get("max-deleted-entry-id") ?? "0-0");
  const removed = Number(fields.get("entries-added") ?? 0) - Number(fields.get("length") ?? 0);
  const first = (fields.get("first-entry") as [string, unknown] | null)?.[0] ??
    String(fields.get("last-generated-id") ?? "0-0");
  const lostAfter = maxDeleted !== "0-0" && compareStreamIds(maxDeleted, afterId) > 0
    ? maxDeleted
    : removed > 0 && compareStreamIds(first, afterId) > 0
    ? `the entry before ${first}`
    : undefined;
  if (lostAfter !== undefined) {
    throw new StreamGapError(
      `${INPUT_STREAM} lost entries the engine needs: it must replay from after ${afterId}, ` +
        `but entries up to ${lostAfter} were trimmed or deleted. Refusing to start: restore ` +
        `Redis from its AOF, or the snapshots that were removed.`,
    );
  }
}

/** The figures of a state whose money does not add up. */
export interface ConservationBreak {
  /** balances + locked margin + reserved margin + house − credited: never zero here. */
  gapCents: bigint;
  balancesCents: bigint;
  lockedCents: bigint;
  pendingCents: bigint;
  houseCents: bigint;
  creditedCents: bigint;
  minBalanceCents: bigint;
  lastId: string;
}

/**
 * Undefined when every cent is accounted for (core/invariants.ts `conservationGap` is zero),
 * else the figures. Pure, one pass over accounts and positions (~6 ms at 100k + 100k): run
 * after catching up and after each snapshot, never per batch.
 */
export function conservationBreak(state: EngineState): ConservationBreak | undefined {
  const gapCents = conservationGap(state);
  if (gapCents === 0n) return undefined;
  return { gapCents, ...totalsOf(state), lastId: state.lastId };
}
