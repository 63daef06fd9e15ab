import assert from "node:assert/strict";
import type { RedisClient as Redis } from "./redis.ts";
import { createLogger } from "./log.ts";
import { connectRedis } from "./redis.ts";
import { followStreams, readStream, type StreamBatch } from "./stream_reader.ts";

const URL = Deno.env.get("TEST_REDIS_URL") ?? "redis://127.0.0.1:6379";

/** Warnings said, as JSON lines. */
function recordingLog() {
  const lines: string[] = [];
  return { lines, log: createLogger("test", "warn", (line) => lines.push(line)) };
}

async function withRedis(
  body: (redis: Redis, reader: Redis, stream: string) => Promise<void>,
): Promise<void> {
  const redis = connectRedis(`${URL}/15`, { name: "stream-reader-test" });
  const reader = connectRedis(`${URL}/15`, { name: "stream-reader-test-reader" });
  const stream = `test:stream-reader:${crypto.randomUUID()}`;
  try {
    await body(redis, reader, stream);
  } finally {
    await redis.del(stream);
    redis.disconnect();
    reader.disconnect();
  }
}

const add = (redis: Redis, stream: string, n: number) =>
  Promise.all(
    Array.from({ length: n }, (_, i) => redis.xadd(stream, "*", "n", String(i))),
  ) as Promise<string[]>;

Deno.test("a stream is followed from `after` in batches of at most `count`", async () => {
  await withRedis(async (redis, reader, stream) => {
    const ids = await add(redis, stream, 6);
    let running = true;
    const sizes: number[] = [];
    const lastIds: string[] = [];
    const batches = readStream({
      reader,
      stream,
      after: ids[0]!,
      count: 2,
      blockMs: 50,
      running: () => running,
      log: createLogger("test", "error"),
      retryMessage: "read failed",
    });
    for await (const { entries, lastId } of batches) {
      sizes.push(entries.length);
      lastIds.push(lastId);
      if (entries.length === 0) running = false;
    }
    // The last read blocked for blockMs and came back empty: it is still a batch.
    assert.deepEqual(sizes, [2, 2, 1, 0]);
    assert.deepEqual(lastIds, [ids[2], ids[4], ids[5], ids[5]]);
  });
});

Deno.test("an entry added while a read blocks arrives in that read's batch", async () => {
  await withRedis(async (redis, reader, stream) => {
    const batches = readStream({
      reader,
      stream,
      after: "0-0",
      count: 10,
      blockMs: 5000,
      running: () => true,
      log: createLogger("test", "error"),
      retryMessage: "read failed",
    });
    const next = batches.next();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const [id] = await add(redis, stream, 1);
    const batch = (await next).value as StreamBatch<[string, string[]]>;
    assert.deepEqual(batch.entries, [[id, ["n", "0"]]]);
    await batches.return();
  });
});

Deno.test("as bytes, fields stay bytes and lastId is text", async () => {
  await withRedis(async (redis, reader, stream) => {
    const [id] = await add(redis, stream, 1);
    const batches = readStream({
      reader,
      stream,
      after: "0-0",
      count: 10,
      blockMs: 50,
      bytes: true,
      running: () => true,
      log: createLogger("test", "error"),
      retryMessage: "read failed",
    });
    const { entries, lastId } = (await batches.next()).value!;
    await batches.return();
    assert.equal(lastId, id);
    const [rawId, fields] = entries[0]!;
    assert.ok(rawId instanceof Uint8Array);
    assert.equal(new TextDecoder().decode(fields[1]), "0");
  });
});

Deno.test("a failed read is logged and tried again after the pause, from the same ID", async () => {
  await withRedis(async (redis, reader, stream) => {
    // Not a stream: XREAD answers WRONGTYPE until the key is one again.
    await redis.set(stream, "not a stream");
    const { lines, log } = recordingLog();
    const batches = readStream({
      reader,
      stream,
      after: "0-0",
      count: 10,
      blockMs: 50,
      running: () => true,
      log,
      retryMessage: "read failed; retrying",
      retryDelayMs: 100,
    });
    const next = batches.next();
    await new Promise((resolve) => setTimeout(resolve, 250));
    await redis.del(stream);
    const [id] = await add(redis, stream, 1);
    const { entries } = (await next).value!;
    await batches.return();
    assert.deepEqual(entries.map(([entryId]) => entryId), [id]);
    // One warning per pause, not a tight loop of them.
    assert.ok(lines.length >= 1 && lines.length <= 6, `warned ${lines.length} times`);
    assert.match(lines[0]!, /"msg":"read failed; retrying".*WRONGTYPE/);
  });
});

Deno.test("once running() is false no read is sent", async () => {
  await withRedis(async (_redis, reader, stream) => {
    let reads = 0;
    const batches = readStream({
      reader,
      stream,
      after: "0-0",
      count: 10,
      blockMs: 20,
      running: () => reads++ < 2,
      log: createLogger("test", "error"),
      retryMessage: "read failed",
    });
    let batchesSeen = 0;
    for await (const _ of batches) batchesSeen++;
    assert.equal(batchesSeen, 2);
  });
});

/** A reader whose XREADGROUP fails when told to, and which records the ID each read sent. */
function flakyGroupReader(reader: Redis) {
  const sentIds: string[] = [];
  const state = { failNext: false, sentIds };
  const flaky = Object.create(reader) as Redis;
  flaky.xreadgroup = ((...args: Array<string | number>) => {
    sentIds.push(String(args.at(-1)));
    if (state.failNext) {
      state.failNext = false;
      return Promise.reject(new Error("reply lost"));
    }
    return (reader.xreadgroup as (...a: unknown[]) => Promise<unknown>)(...args);
  }) as Redis["xreadgroup"];
  return { flaky, state };
}

Deno.test("a group takes what this consumer never acknowledged, then new entries", async () => {
  await withRedis(async (redis, reader, stream) => {
    await redis.xgroup("CREATE", stream, "g", "0", "MKSTREAM");
    const unacknowledged = await add(redis, stream, 3);
    // Read before a crash, never acknowledged.
    await redis.xreadgroup("GROUP", "g", "c", "STREAMS", stream, ">");
    const fresh = await add(redis, stream, 2);

    const { flaky, state } = flakyGroupReader(reader);
    let running = true;
    const caughtUp: boolean[] = [];
    const seen: string[][] = [];
    const { lines, log } = recordingLog();
    const batches = readStream({
      reader: flaky,
      stream,
      group: { name: "g", consumer: "c" },
      count: 2,
      running: () => running,
      log,
      retryMessage: "group read failed",
      retryDelayMs: 10,
      beforeRead: (isCaughtUp) => {
        caughtUp.push(isCaughtUp);
        if (isCaughtUp) running = false;
      },
    });
    for await (const { entries } of batches) {
      const ids = entries.map(([id]) => id);
      seen.push(ids);
      if (ids.length > 0) await redis.xack(stream, "g", ...ids);
    }
    assert.deepEqual(seen, [
      unacknowledged.slice(0, 2),
      unacknowledged.slice(2),
      [], // none left unacknowledged
      fresh,
      [],
    ]);
    assert.deepEqual(state.sentIds, [
      "0",
      unacknowledged[1],
      unacknowledged[2],
      ">",
      ">",
    ]);
    // Only the last read found fewer new entries than `count`.
    assert.deepEqual(caughtUp, [false, false, false, false, false, true]);
    assert.equal(lines.length, 0);
  });
});

Deno.test("an unacknowledged entry trimmed since comes back with no fields, as strings and as bytes", async () => {
  await withRedis(async (redis, reader, stream) => {
    await redis.xgroup("CREATE", stream, "g", "0", "MKSTREAM");
    const ids = await add(redis, stream, 3);
    await redis.xreadgroup("GROUP", "g", "c", "STREAMS", stream, ">");
    // The poller's MAXLEN (or a trim) drops the first two while they are still unacknowledged.
    await redis.xtrim(stream, "MINID", ids[2]!);
    for (const bytes of [false, true]) {
      const batches = readStream({
        reader,
        stream,
        group: { name: "g", consumer: "c" },
        count: 10,
        running: () => true,
        log: createLogger("test", "error"),
        retryMessage: "group read failed",
        bytes: bytes as false,
      });
      const { entries } = (await batches.next()).value as StreamBatch<[unknown, unknown[]]>;
      await batches.return();
      assert.equal(entries.length, 3);
      assert.deepEqual(entries.map(([, fields]) => fields.length), [0, 0, 2], `bytes: ${bytes}`);
    }
  });
});

Deno.test("after a failed group read, the unacknowledged entries are read again", async () => {
  await withRedis(async (redis, reader, stream) => {
    await redis.xgroup("CREATE", stream, "g", "0", "MKSTREAM");
    const { flaky, state } = flakyGroupReader(reader);
    const { lines, log } = recordingLog();
    const batches = readStream({
      reader: flaky,
      stream,
      group: { name: "g", consumer: "c" },
      count: 10,
      running: () => true,
      log,
      retryMessage: "group read failed",
      retryDelayMs: 10,
    });
    assert.deepEqual((await batches.next()).value!.entries, []); // nothing unacknowledged
    const ids = await add(redis, stream, 2);
    // Delivered but not acknowledged: as if the reply of the read had been lost.
    assert.deepEqual((await batches.next()).value!.entries.map(([id]) => id), ids);
    state.failNext = true;
    const again = (await batches.next()).value!;
    await batches.return();
    assert.deepEqual(again.entries.map(([id]) => id), ids);
    assert.deepEqual(state.sentIds, ["0", ">", ">", "0"]);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /"msg":"group read failed".*reply lost/);
  });
});

Deno.test("followStreams: one read follows two streams, each from its own ID, none twice", async () => {
  await withRedis(async (redis, reader, stream) => {
    const other = `${stream}:other`;
    try {
      const [skipped] = await add(redis, stream, 1);
      await add(redis, other, 2);
      let running = true;
      const batches = followStreams({
        reader,
        streams: { [stream]: skipped!, [other]: "0-0" },
        count: 10,
        blockMs: 200,
        running: () => running,
        log: recordingLog().log,
        retryMessage: "read failed",
      });
      const first = (await batches.next()).value!;
      // `stream` starts after its only entry; `other` from the start.
      assert.deepEqual([...first.keys()], [other]);
      assert.equal(first.get(other)!.length, 2);
      const [late] = await add(redis, stream, 1);
      const second = (await batches.next()).value!;
      assert.deepEqual([...second.keys()], [stream]);
      assert.deepEqual(second.get(stream)!.map(([id]) => id), [late]);
      // Nothing new: the blocking read times out with an empty map, and nothing is read again.
      const third = (await batches.next()).value!;
      assert.equal(third.size, 0);
      running = false;
      assert.equal((await batches.next()).done, true);
    } finally {
      await redis.del(other);
    }
  });
});
