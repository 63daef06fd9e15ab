/**
 * Keeps Redis memory bounded. engine:input is trimmed only below the oldest snapshot still
 * kept (recovery never needs anything older); engine:output only below what the history
 * consumer group has acknowledged, keeping a tail for readers that start at its end; and
 * {e0}:quotes the same way below what the candle group has acknowledged.
 */
import type { Logger } from "@trading/shared/log";
import {
  INPUT_STREAM,
  OUTPUT_STREAM,
  QUOTES_STREAM,
  type RedisClient,
} from "@trading/shared/redis";
import { compareStreamIds, parseStreamId } from "../core/stream_id.ts";
import { CANDLE_GROUP } from "./candle_writer.ts";
import { HISTORY_GROUP } from "./history.ts";
import type { SnapshotMeta, SnapshotStore } from "./snapshots.ts";

/**
 * Retention, after each snapshot is saved: engine:input below the oldest snapshot still kept
 * (the one just saved when the list is empty), engine:output below what history acknowledged,
 * {e0}:quotes below what the candle writer acknowledged.
 */
export async function trimAfterSnapshot(
  redis: RedisClient,
  store: Pick<SnapshotStore, "list">,
  saved: SnapshotMeta,
  log: Logger,
): Promise<void> {
  const kept = await store.list();
  const oldest = kept.at(-1)?.lastId ?? saved.lastId;
  const [inputTrimmed, outputTrimmed, quotesTrimmed] = await Promise.all([
    trimInput(redis, oldest),
    trimOutput(redis, Date.now()),
    trimAcknowledged(redis, QUOTES_STREAM, CANDLE_GROUP, Date.now(), 60_000),
  ]);
  if (inputTrimmed + outputTrimmed + quotesTrimmed > 0) {
    log.debug("trimmed", { inputTrimmed, outputTrimmed, quotesTrimmed, oldest });
  }
}

export async function trimInput(redis: RedisClient, oldestKeptSnapshotId: string): Promise<number> {
  return await redis.xtrim(INPUT_STREAM, "MINID", oldestKeptSnapshotId) as number;
}

/**
 * Trims engine:output below what the history group still needs, keeping the last `tailMs` of
 * entries for readers that start at its end. Decided from stream IDs alone: reading a tail back
 * to find its start would cost the engine's loop a large reply.
 */
export async function trimOutput(
  redis: RedisClient,
  nowMs: number,
  tailMs = 60_000,
): Promise<number> {
  return await trimAcknowledged(redis, OUTPUT_STREAM, HISTORY_GROUP, nowMs, tailMs);
}

/**
 * Trims `stream` below what consumer group `group` still needs (its oldest unacknowledged
 * entry, else the next new one), keeping the last `tailMs` of entries; nothing while the group
 * does not exist yet.
 */
export async function trimAcknowledged(
  redis: RedisClient,
  stream: string,
  group: string,
  nowMs: number,
  tailMs: number,
): Promise<number> {
  let groups: unknown[][];
  try {
    groups = await redis.xinfo("GROUPS", stream) as unknown[][];
  } catch (error) {
    if (String(error).includes("no such key")) return 0; // nothing written yet
    throw error;
  }
  const consumer = groups.map(toMap).find((g) => g.get("name") === group);
  if (consumer === undefined) return 0; // nothing has consumed it yet: keep everything
  const pending = await redis.xpending(stream, group) as [number, string | null];
  // The oldest entry the group still needs: its oldest unacknowledged one, else the next new.
  const needed = pending[0] > 0 && pending[1]
    ? pending[1]
    : nextId(String(consumer.get("last-delivered-id")));
  const tailStart = `${Math.max(0, nowMs - tailMs)}-0`;
  const minId = compareStreamIds(tailStart, needed) < 0 ? tailStart : needed;
  return await redis.xtrim(stream, "MINID", "~", minId) as number;
}

function toMap(flat: unknown[]): Map<string, unknown> {
  const map = new Map<string, unknown>();
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(String(flat[i]), flat[i + 1]);
  return map;
}

function nextId(id: string): string {
  const { ms, seq } = parseStreamId(id);
  return `${ms}-${seq + 1}`;
}
