import assert from "node:assert/strict";
import { connectRedis, WatchdogError, watchedRead } from "./redis.ts";

const URL = Deno.env.get("TEST_REDIS_URL") ?? "redis://127.0.0.1:6379";

Deno.test("a blocking read that never answers is cut off and the connection re-made", async () => {
  const reader = connectRedis(`${URL}/15`, { name: "watchdog-test" });
  try {
    await reader.ping();
    const started = Date.now();
    await assert.rejects(
      watchedRead(reader, () => new Promise<never>(() => {}), 100, 200),
      WatchdogError,
    );
    assert.ok(Date.now() - started < 2000);
    // The connection comes back by itself and serves the next read.
    assert.equal(await reader.ping(), "PONG");
    const answered = await watchedRead(
      reader,
      () => reader.xread("BLOCK", 50, "STREAMS", "none", "$"),
      50,
      200,
    );
    assert.equal(answered, null);
  } finally {
    reader.disconnect();
  }
});
