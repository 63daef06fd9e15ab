/**
 * Moves the streams of an engine from before its keys carried a hash tag (`engine:input`,
 * `engine:output`) to their names now, once, at start, so an upgrade loses nothing: the
 * snapshot's position in the input stream stays valid, and the history group moves with the
 * output stream. Only on one Redis: a cluster never held the old names.
 */
import { Cluster } from "ioredis";
import type { Logger } from "@trading/shared/log";
import {
  INPUT_STREAM,
  LEGACY_KEYS,
  OUTPUT_STREAM,
  type RedisClient,
  type StreamEntryReply,
  WRITTEN_KEY,
} from "@trading/shared/redis";

export async function moveLegacyKeys(redis: RedisClient, log: Logger): Promise<boolean> {
  if (redis instanceof Cluster) return false;
  const [legacyInput, input] = await Promise.all([
    redis.exists(LEGACY_KEYS.input),
    redis.exists(INPUT_STREAM),
  ]);
  if (legacyInput === 0 || input === 1) return false;
  // Every output went to the one stream then: its newest entry's cause is what was written.
  const newest = await redis.xrevrange(
    LEGACY_KEYS.output,
    "+",
    "-",
    "COUNT",
    1,
  ) as StreamEntryReply[];
  const fields = newest[0]?.[1] ?? [];
  let cause: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === "cause") cause = fields[i + 1];
  const multi = redis.multi().rename(LEGACY_KEYS.input, INPUT_STREAM);
  if (newest.length > 0) multi.rename(LEGACY_KEYS.output, OUTPUT_STREAM);
  if (cause !== undefined) multi.set(WRITTEN_KEY, cause);
  const results = await multi.exec();
  const failed = results?.find(([error]) => error !== null);
  if (results === null || failed) throw failed?.[0] ?? new Error("MULTI aborted");
  log.info("moved the engine's streams to their hash-tagged names", {
    from: [LEGACY_KEYS.input, LEGACY_KEYS.output],
    to: [INPUT_STREAM, OUTPUT_STREAM],
    writtenThrough: cause ?? "0-0",
  });
  return true;
}
