/**
 * Keeps Redis memory bounded. engine:input is trimmed only below the oldest snapshot still
 * kept (recovery never needs anything older); engine:output only below what the history
 * consumer group has acknowledged, keeping a tail for readers that start at its end.
 */
import type { Redis } from "ioredis";
import { INPUT_STREAM, OUTPUT_STREAM } from "@trading/shared/redis";
import { compareStreamIds } from "../core/stream_id.ts";
import { HISTORY_GROUP } from "./history.ts";

export async function trimInput(redis: Redis, oldestKeptSnapshotId: string): Promise<number> {
  return await redis.xtrim(INPUT_STREAM, "MINID", oldestKeptSnapshotId) as number;
}

export async function trimOutput(redis: Redis, keepAtLeast = 10_000): Promise<number> {
  const length = await redis.xlen(OUTPUT_STREAM);
  if (length <= keepAtLeast) return 0;
  const groups = await redis.xinfo("GROUPS", OUTPUT_STREAM) as unknown[][];
  const history = groups.map(toMap).find((g) => g.get("name") === HISTORY_GROUP);
  if (history === undefined) return 0; // nothing has consumed it yet: keep everything
  const pending = await redis.xpending(OUTPUT_STREAM, HISTORY_GROUP) as [number, string | null];
  // The oldest entry the group still needs: its oldest unacknowledged one, else the next new.
  const needed = pending[0] > 0 && pending[1]
    ? pending[1]
    : nextId(String(history.get("last-delivered-id")));
  // The oldest of the last `keepAtLeast` entries: readers starting at the end find a tail.
  const [oldestTail] =
    (await redis.xrevrange(OUTPUT_STREAM, "+", "-", "COUNT", keepAtLeast)).at(-1) ??
      [];
  if (oldestTail === undefined) return 0;
  const minId = compareStreamIds(oldestTail, needed) < 0 ? oldestTail : needed;
  return await redis.xtrim(OUTPUT_STREAM, "MINID", "~", minId) as number;
}

function toMap(flat: unknown[]): Map<string, unknown> {
  const map = new Map<string, unknown>();
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(String(flat[i]), flat[i + 1]);
  return map;
}

function nextId(id: string): string {
  const [ms, seq] = id.split("-");
  return `${ms}-${Number(seq) + 1}`;
}
