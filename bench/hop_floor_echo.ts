/**
 * The tail section's hop floor, engine side (`deno run -A bench/hop_floor_echo.ts`): the
 * engine's hops with none of its logic. One blocking XREAD loop (`readStream`, as the engine
 * follows its input) on the floor's input stream; each batch's answers are written in one
 * MULTI/EXEC before the next read, as the engine writes its outputs: each to the reply stream of
 * the server that asked (XADD MAXLEN ~ 10000), and each reply stream written gets its time to
 * live renewed. No order events, no record of the last cause. An answer is `{"orderId":"<n>"}`,
 * so the load generator can close what it "opened".
 */
import { createLogger } from "@trading/shared/log";
import { loadConfig } from "@trading/shared/config";
import { connectRedis, lastStreamId, redisTargetOf } from "@trading/shared/redis";
import { readStream } from "@trading/shared/stream_reader";
import { FLOOR_INPUT_STREAM, floorReplyStream } from "./lib.ts";

// REDIS_URL, or REDIS_CLUSTER_NODES under `deno task bench --cluster`, as the system reads them.
const url = redisTargetOf(loadConfig());
const log = createLogger("floor-echo", "info");
const redis = connectRedis(url, { name: "floor-echo", autoPipeline: true, log });
const reader = connectRedis(url, { name: "floor-echo-reader", log });

const after = await lastStreamId(redis, FLOOR_INPUT_STREAM);
const batches = readStream({
  reader,
  stream: FLOOR_INPUT_STREAM,
  after,
  count: 1000,
  blockMs: 1000,
  running: () => true,
  log,
  retryMessage: "input read failed; retrying",
});
log.info("floor echo reading", { ready: true });
/** The engine's cap of a reply stream and the default REPLY_TTL_MS. */
const REPLY_STREAM_MAX = 10_000;
const REPLY_TTL_MS = 300_000;
let orderId = 0;
for await (const { entries } of batches) {
  if (entries.length === 0) continue;
  const multi = redis.multi();
  const replyStreams = new Set<string>();
  for (const [, fields] of entries) {
    // Fields as the server writes them: requestId, replyTo, body.
    orderId++;
    const stream = floorReplyStream(fields[3]!);
    replyStreams.add(stream);
    multi.xadd(
      stream,
      "MAXLEN",
      "~",
      REPLY_STREAM_MAX,
      "*",
      "requestId",
      fields[1]!,
      "body",
      `{"orderId":"${orderId}"}`,
    );
  }
  for (const stream of replyStreams) multi.pexpire(stream, REPLY_TTL_MS);
  const results = await multi.exec();
  const failed = results?.find(([error]) => error !== null);
  if (results === null || failed) log.warn("reply write failed", { error: failed?.[0] });
}
