/**
 * One quote onto `{e0}:input` for the engine and `{e0}:quotes` for the candle writer, in one MULTI
 * (one hash tag: one node on a cluster), so the candles see exactly the quotes the engine does.
 * `{e0}:quotes` is capped (MAXLEN ~): a candle writer that is down costs Redis at most that many
 * entries, and what it never read is a gap in the candles (docs/design.md §8).
 */
import {
  INPUT_STREAM,
  QUOTES_MAXLEN,
  QUOTES_STREAM,
  type RedisClient,
} from "@trading/shared/redis";

export async function appendQuote(
  redis: RedisClient,
  fields: readonly string[],
  quotesMaxLen = QUOTES_MAXLEN,
): Promise<void> {
  const results = await redis.multi()
    .xadd(INPUT_STREAM, "*", ...fields)
    .xadd(QUOTES_STREAM, "MAXLEN", "~", quotesMaxLen, "*", ...fields)
    .exec();
  const failed = results === null ? new Error("MULTI aborted") : results.find(([e]) => e)?.[0];
  if (failed) throw failed;
}
