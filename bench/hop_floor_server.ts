/**
 * The tail section's hop floor, HTTP side (`deno run -A bench/hop_floor_server.ts <port> <id>`):
 * the API's hops with none of its logic. Deno.serve as the API uses it takes the same requests
 * (trade/create and trade/close bodies with their headers), reads the body, XADDs it with a
 * request ID to the floor's input stream and waits for the answer on its own reply stream,
 * which one blocking XREAD loop (`readStream`) follows, matching answers to requests by ID.
 * Its Redis connections are made as the API makes its own (`connectRedis`: a fail-fast,
 * auto-pipelined command connection and a blocking reader of its own). No auth, no validation,
 * no JSON parsing: whatever the echo answers is the response body.
 */
import { createLogger } from "@trading/shared/log";
import { loadConfig } from "@trading/shared/config";
import { connectRedis, lastStreamId, redisTargetOf } from "@trading/shared/redis";
import { readStream } from "@trading/shared/stream_reader";
import { redisReady } from "@trading/shared/wait";
import { FLOOR_INPUT_STREAM, floorReplyStream } from "./lib.ts";

const port = Number(Deno.args[0]);
const id = Deno.args[1] ?? "floor";
// REDIS_URL, or REDIS_CLUSTER_NODES under `deno task bench --cluster`, as the system reads them.
const url = redisTargetOf(loadConfig());
const log = createLogger("floor-server", "info");
const redis = connectRedis(url, { name: `floor-${id}`, failFast: true, autoPipeline: true, log });
const reader = connectRedis(url, { name: `floor-${id}-reader`, log });
const replies = floorReplyStream(id);

/** Requests waiting for their answer, by request ID. */
const pending = new Map<string, (body: string) => void>();
const TIMEOUT_MS = 5000;

// As the API: its fail-fast commands wait for the connection once, at start.
await redisReady(redis);
const after = await lastStreamId(redis, replies);
(async () => {
  const batches = readStream({
    reader,
    stream: replies,
    after,
    count: 1000,
    blockMs: 1000,
    running: () => true,
    log,
    retryMessage: "reply read failed; retrying",
  });
  for await (const { entries } of batches) {
    for (const [, fields] of entries) {
      // Fields as the echo writes them: requestId, then body.
      const resolve = pending.get(fields[1]!);
      if (resolve === undefined) continue;
      pending.delete(fields[1]!);
      resolve(fields[3]!);
    }
  }
})();

const JSON_HEADERS = { "content-type": "application/json" };

Deno.serve({
  port,
  hostname: "127.0.0.1",
  onListen: () => log.info("floor server listening", { ready: true, port, id }),
}, async (request) => {
  const body = await request.text();
  const requestId = crypto.randomUUID();
  const answer = await new Promise<string | undefined>((resolve) => {
    const timer = setTimeout(() => {
      pending.delete(requestId);
      resolve(undefined);
    }, TIMEOUT_MS);
    pending.set(requestId, (text) => {
      clearTimeout(timer);
      resolve(text);
    });
    redis.xadd(FLOOR_INPUT_STREAM, "*", "requestId", requestId, "replyTo", id, "body", body)
      .catch(() => {
        clearTimeout(timer);
        pending.delete(requestId);
        resolve(undefined);
      });
  });
  if (answer === undefined) return new Response('{"error":"timeout"}', { status: 504 });
  return new Response(answer, { headers: JSON_HEADERS });
});
