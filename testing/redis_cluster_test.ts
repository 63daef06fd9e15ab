/**
 * The private Redis Cluster of the tests: a transaction and a stream under one hash tag through
 * an ioredis Cluster client, keys of other tags on other nodes, and nothing left running after
 * `destroy`. Also the Env's cluster mode (without processes): what the processes would be given.
 */
import assert from "node:assert/strict";
import { Cluster, Redis } from "ioredis";
import { Env } from "./env.ts";
import { startRedisCluster } from "./redis_cluster.ts";

/** Whether a process with this id still exists (a zombie counts: it was not waited on). */
async function alive(pid: number): Promise<boolean> {
  try {
    await Deno.stat(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** The command lines of the redis-server processes serving one of `ports`. */
async function serversOn(ports: number[]): Promise<string[]> {
  const ps = await new Deno.Command("ps", { args: ["-eo", "pid=,args="], stdout: "piped" })
    .output();
  return new TextDecoder().decode(ps.stdout).split("\n").filter((line) =>
    line.includes("redis-server") && ports.some((port) => line.includes(`:${port}`))
  );
}

async function listening(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

/** The port of the master serving `slot`, from CLUSTER SLOTS. */
function ownerOf(
  slots: Array<[number, number, ...Array<[string, number, ...unknown[]]>]>,
  slot: number,
) {
  const range = slots.find(([from, to]) => from <= slot && slot <= to);
  assert.ok(range && range[2], `slot ${slot} is served`);
  return range[2][1];
}

Deno.test("a private Redis Cluster: one tag's keys in one MULTI and a stream, other tags elsewhere", async () => {
  const started = performance.now();
  const cluster = await startRedisCluster();
  const startMs = Math.round(performance.now() - started);
  console.log(`cluster of 3 masters ready in ${startMs} ms: ${cluster.nodes}`);
  let destroyed = false;
  try {
    assert.equal(cluster.ports.length, 3);
    assert.equal(cluster.nodes, cluster.ports.map((port) => `127.0.0.1:${port}`).join(","));
    for (const port of cluster.ports) assert.ok(port + 10_000 < 65_536);
    const client = cluster.client();

    // One hash tag: one slot, so one transaction may write both keys.
    const [slotA, slotB] = await Promise.all(
      ["{e0}:a", "{e0}:b"].map((key) => client.cluster("KEYSLOT", key)),
    );
    assert.equal(slotA, slotB);
    const written = await client.multi().set("{e0}:a", "1").set("{e0}:b", "2").incr("{e0}:a")
      .exec();
    assert.deepEqual(written, [[null, "OK"], [null, "OK"], [null, 2]]);
    assert.deepEqual(await client.mget("{e0}:a", "{e0}:b"), ["2", "2"]);

    const id = await client.xadd("{e0}:s", "*", "price", "BTC 1 2 0");
    const read = await client.xread("COUNT", 10, "STREAMS", "{e0}:s", "0");
    assert.deepEqual(read, [["{e0}:s", [[id, ["price", "BTC 1 2 0"]]]]]);
    // A blocking read from the tail gets the next entry, written by another connection.
    const reader = cluster.client();
    const next = reader.xread("BLOCK", 5000, "STREAMS", "{e0}:s", id!);
    const id2 = await client.xadd("{e0}:s", "*", "n", "2");
    assert.deepEqual(await next, [["{e0}:s", [[id2, ["n", "2"]]]]]);
    reader.disconnect();

    // Other tags: other slots, spread over every master, each key on its owner.
    const slots = await client.cluster("SLOTS");
    const owners = new Map<string, number>();
    for (let i = 0; i < 10; i++) {
      const key = `{e${i}}:a`;
      const slot = await client.cluster("KEYSLOT", key);
      owners.set(key, ownerOf(slots, slot));
      if (i > 0) await client.set(key, String(i));
    }
    assert.deepEqual(new Set(owners.values()), new Set(cluster.ports), "tags on every master");
    for (const [key, port] of owners) {
      const direct = new Redis({ host: "127.0.0.1", port, lazyConnect: true });
      try {
        assert.equal(await direct.get(key), key === "{e0}:a" ? "2" : key.slice(2, 3));
      } finally {
        direct.disconnect();
      }
    }
    // A transaction over two tags on two nodes is refused by the client.
    const [otherKey] = [...owners].find(([, port]) => port !== owners.get("{e0}:a"))!;
    await assert.rejects(client.multi().set("{e0}:a", "x").set(otherKey, "y").exec());
    client.disconnect();

    await cluster.destroy();
    destroyed = true;
    for (const pid of cluster.pids) assert.equal(await alive(pid), false, `pid ${pid} gone`);
    assert.deepEqual(await serversOn(cluster.ports), []);
    for (const port of cluster.ports) assert.equal(await listening(port), false);
    await cluster.destroy(); // a second destroy is harmless
  } finally {
    if (!destroyed) await cluster.destroy();
  }
});

Deno.test("the Env's cluster mode gives the processes the cluster's nodes and no REDIS_URL", async () => {
  const env = await Env.create({}, { cluster: true });
  let closed = false;
  try {
    const cluster = env.redisCluster!;
    assert.ok(cluster);
    assert.equal(env.env.REDIS_CLUSTER_NODES, cluster.nodes);
    assert.equal(env.env.REDIS_URL, undefined);
    assert.equal(env.redisDb, 0);
    assert.ok(env.redis instanceof Cluster);
    await env.redis.set("{e0}:x", "1");
    assert.equal(await env.redis.get("{e0}:x"), "1");
    await env.close();
    closed = true;
    assert.deepEqual(await serversOn(cluster.ports), []);
  } finally {
    if (!closed) await env.close();
  }
});

Deno.test("a REDIS_CLUSTER_NODES given to the Env: that cluster, emptied on every master, kept", async () => {
  const cluster = await startRedisCluster();
  try {
    const client = cluster.client();
    const keys = Array.from({ length: 10 }, (_, i) => `{e${i}}:old`);
    for (const key of keys) await client.set(key, "1");
    const env = await Env.create({ REDIS_CLUSTER_NODES: cluster.nodes });
    try {
      assert.equal(env.redisCluster, undefined);
      assert.equal(env.env.REDIS_CLUSTER_NODES, cluster.nodes);
      assert.equal(env.env.REDIS_URL, undefined);
      assert.ok(env.redis instanceof Cluster);
      for (const key of keys) assert.equal(await client.get(key), null, `${key} flushed`);
    } finally {
      await env.close();
    }
    assert.equal(await client.ping(), "PONG", "the caller's cluster outlives the Env");
    await assert.rejects(
      Env.create({ REDIS_CLUSTER_NODES: cluster.nodes }, { cluster: true }),
      /cluster option/,
    );
  } finally {
    await cluster.destroy();
  }
});

Deno.test("the Env without the cluster option is unchanged: a database of the shared Redis", async () => {
  const env = await Env.create();
  try {
    assert.equal(env.redisCluster, undefined);
    assert.equal(env.env.REDIS_CLUSTER_NODES, undefined);
    assert.match(env.env.REDIS_URL!, /^redis:\/\/.+\/([1-9]|1[0-5])$/);
    assert.ok(env.redis instanceof Redis);
    assert.equal(await env.redis.dbsize(), 0);
  } finally {
    await env.close();
  }
});
