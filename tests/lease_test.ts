/**
 * The engine lease after a stall longer than its ttl, against a real redis-server: taken back
 * when no other engine held it meanwhile; given up, saying why, when one did (the engine then
 * exits and recovers on its restart).
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { createLogger } from "@trading/shared/log";
import { ENGINE_LOCK_EPOCH_KEY, ENGINE_LOCK_KEY, EngineLease } from "../engine/io/lock.ts";
import { eventually, sleep, withEnv } from "./harness.ts";
import { startPrivateRedis } from "./private_redis.ts";

const TTL_MS = 300;

/** A lease of `owner` on a private redis-server, with its log lines and `lost` reasons. */
async function withLease(
  body: (
    lease: { redis: Redis; lines: string[]; lost: string[]; owner: string; instance: EngineLease },
  ) => Promise<void>,
) {
  const server = await startPrivateRedis();
  const redis = new Redis(server.url);
  const other = new Redis(server.url);
  const lines: string[] = [];
  const lost: string[] = [];
  const owner = "engine-a:1";
  const instance = new EngineLease(
    redis,
    owner,
    createLogger("engine", "debug", (line) => lines.push(line)),
    TTL_MS,
  );
  try {
    await instance.acquire();
    instance.keep((reason) => lost.push(reason));
    await body({ redis: other, lines, lost, owner, instance });
  } finally {
    await instance.release();
    redis.disconnect();
    other.disconnect();
    await server.destroy();
  }
}

/** Blocks this thread (timers included) for `ms`: a stall, as a long GC or snapshot makes. */
function stall(ms: number) {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

Deno.test("a lease that expired in a stall, with no other engine since, is taken back", async () => {
  await withLease(async ({ redis, lines, lost, owner }) => {
    await sleep(TTL_MS); // renewed a few times
    stall(TTL_MS * 2 + 200);
    assert.equal(await redis.get(ENGINE_LOCK_KEY), null, "the stall outlived the lease");
    const warning = await eventually(
      "the lease taken back",
      () => lines.map((l) => JSON.parse(l)).find((l) => l.msg.includes("took it back")),
    );
    assert.equal(lost.length, 0, `not lost: ${lost}`);
    assert.match(warning.msg, /expired during a stall and no other engine took it/);
    assert.ok(warning.stallMs >= TTL_MS * 2 + 200, `stallMs ${warning.stallMs}`);
    assert.equal(await redis.get(ENGINE_LOCK_KEY), owner);
    await sleep(TTL_MS * 2);
    assert.equal(await redis.get(ENGINE_LOCK_KEY), owner, "renewed again since");
    assert.ok((await redis.pttl(ENGINE_LOCK_KEY)) > 0);
  });
});

Deno.test("a lease another engine holds now is given up, naming that engine", async () => {
  await withLease(async ({ redis, lost }) => {
    // What another engine's acquisition does once ours has expired, in one step.
    await redis.multi().del(ENGINE_LOCK_KEY).set(ENGINE_LOCK_KEY, "engine-b:2", "PX", 10_000)
      .incr(ENGINE_LOCK_EPOCH_KEY).exec();
    const reason = await eventually("the lease given up", () => lost[0]);
    assert.match(reason, /^engine lease held by another engine \(engine-b:2\), \d+ ms since/);
    await sleep(TTL_MS);
    assert.equal(lost.length, 1, "said once, then no more renewals");
    assert.equal(await redis.get(ENGINE_LOCK_KEY), "engine-b:2", "the other engine keeps it");
  });
});

Deno.test("a lease another engine held and let go meanwhile is not taken back", async () => {
  await withLease(async ({ redis, lost }) => {
    // Ours expired, another engine acquired it (counted) and released it: it may have written.
    await redis.multi().del(ENGINE_LOCK_KEY).incr(ENGINE_LOCK_EPOCH_KEY).exec();
    const reason = await eventually("the lease given up", () => lost[0]);
    assert.match(reason, /^engine lease expired, \d+ ms since .*another engine held it meanwhile/);
    assert.equal(await redis.get(ENGINE_LOCK_KEY), null, "not taken back");
  });
});

Deno.test("a lease whose Redis lost its data is given up", async () => {
  await withLease(async ({ redis, lost }) => {
    await redis.flushall();
    const reason = await eventually("the lease given up", () => lost[0]);
    assert.match(reason, /gone from Redis/);
    assert.equal(await redis.get(ENGINE_LOCK_KEY), null);
  });
});

Deno.test("the engine process: a real stall past the lease keeps it; a taken lease stops it", async () => {
  const server = await startPrivateRedis();
  try {
    await withEnv({ REDIS_URL: server.url }, async (env) => {
      const engine = await env.startEngine();
      await eventually("ready", () => engine.ready());
      const owner = `${Deno.hostname()}:${engine.child.pid}`;
      assert.equal(await env.redis.get(ENGINE_LOCK_KEY), owner);

      // A stall: the whole process stopped for longer than the 6 s lease.
      Deno.kill(engine.child.pid, "SIGSTOP");
      await sleep(6_800);
      assert.equal(await env.redis.get(ENGINE_LOCK_KEY), null, "expired while stopped");
      Deno.kill(engine.child.pid, "SIGCONT");
      const line = await eventually(
        "the lease taken back",
        () => engine.output.find((l) => l.includes("took it back")),
      );
      assert.ok(JSON.parse(line).stallMs >= 6_000, line);
      assert.equal(await env.redis.get(ENGINE_LOCK_KEY), owner);
      assert.ok(!engine.output.some((l) => l.includes("exiting")), env.logs(20));

      // Another engine takes the lease: this one says who and stops.
      await env.redis.multi().del(ENGINE_LOCK_KEY).set(ENGINE_LOCK_KEY, "elsewhere:7", "PX", 60_000)
        .incr(ENGINE_LOCK_EPOCH_KEY).exec();
      const status = await engine.child.status;
      assert.equal(status.code, 1);
      assert.ok(
        engine.output.some((l) =>
          l.includes("engine lease held by another engine (elsewhere:7)") && l.includes("exiting")
        ),
        env.logs(20),
      );
    });
  } finally {
    await server.destroy();
  }
});
