/**
 * Recovery benchmark against real Redis and Postgres (`deno task bench:recovery`):
 * (a) replay rate over 1M input entries; (b) restart-to-serving of the real engine process
 * with a snapshot and 10 s of backlog behind it; (c) the longest event-loop stall while the
 * engine's snapshotter writes 100k accounts + 100k positions to Postgres.
 * Uses Redis database 14 (or, under `deno task bench --cluster`, the private cluster that
 * TEST_REDIS_CLUSTER_NODES names, every master flushed) and a throwaway Postgres database;
 * prints numbers, asserts nothing.
 */
import postgres from "postgres";
import { Cluster } from "ioredis";
import { parseClusterNodes } from "@trading/testing";
import { migrate } from "@trading/shared/db";
import { createLogger } from "@trading/shared/log";
import {
  connectRedis,
  INPUT_STREAM,
  type RedisClient,
  type StreamEntryReply,
} from "@trading/shared/redis";
import { encodeInput, type InputEntry } from "@trading/shared/schemas";
import { apply } from "../core/apply.ts";
import { createState } from "../core/state.ts";
import { applyBatch, idText, type StreamEntryBytes } from "../io/batch.ts";
import { Snapshotter } from "../io/snapshotter.ts";
import { SnapshotStore } from "../io/snapshots.ts";

const REDIS_URL = Deno.env.get("BENCH_REDIS_URL") ?? "redis://127.0.0.1:6379/14";
/** Set by `deno task bench --cluster`: the engine and this bench use that cluster instead. */
const CLUSTER_NODES = Deno.env.get("TEST_REDIS_CLUSTER_NODES");
const REDIS_ENV: Record<string, string> = CLUSTER_NODES === undefined
  ? { REDIS_URL }
  : { REDIS_CLUSTER_NODES: CLUSTER_NODES };
const ADMIN_URL = Deno.env.get("BENCH_ADMIN_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/postgres";
const quick = Deno.args.includes("--quick");
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const log = createLogger("bench", "error");
/** Rows for `deno task bench` (bench/run.ts), printed as one line with --rows. */
const rows: unknown[] = [];

/** An entry's XADD arguments after the ID: its wire form (`encodeInput`), field by field. */
const wire = (entry: InputEntry) => Object.entries(encodeInput(entry)).flat();

/** Appends `count` entries: mostly prices, with accounts and open/close pairs mixed in. */
async function fill(redis: RedisClient, count: number, firstUser = 0, every = 20): Promise<void> {
  const assets = ["BTC", "ETH", "SOL"];
  const mids = [9_700_000n, 350_000n, 1_500_000n];
  let user = firstUser;
  for (let i = 0; i < count;) {
    const pipeline = redis.pipeline();
    for (let j = 0; j < 2000 && i < count; j++, i++) {
      if (i % every === 0) {
        pipeline.xadd(
          INPUT_STREAM,
          "*",
          ...wire({ kind: "create_account", requestId: `a${user}`, userId: `u${user}` }),
        );
        user++;
      } else if (i % every === 1 && user > 0) {
        pipeline.xadd(
          INPUT_STREAM,
          "*",
          ...wire({
            kind: "open",
            requestId: `o${i}`,
            userId: `u${user - 1}`,
            asset: "ETH",
            side: "long",
            marginCents: 1000n,
            leverage: 5,
            slippageBps: 10_000,
            expectedPrice: 350_010n,
          }),
        );
      } else {
        const a = i % 3;
        const mid = mids[a]! + BigInt(i % 50);
        pipeline.xadd(
          INPUT_STREAM,
          "*",
          ...wire({ kind: "price", asset: assets[a]!, bid: mid, ask: mid + 2n, ts: 0n }),
        );
      }
    }
    await pipeline.exec();
  }
}

/** `every`: one account and one open per `every` entries (20 → 10 % instructions). */
async function replayRate(redis: RedisClient, entries: number, every: number) {
  await flush(redis);
  await fill(redis, entries, 0, every);
  // Reference: reading the same stream with the same client and doing nothing with it.
  let rawRead = 0;
  let rawLast = "0-0";
  const rawStarted = performance.now();
  for (;;) {
    const batch = await redis.xrange(
      INPUT_STREAM,
      `(${rawLast}`,
      "+",
      "COUNT",
      10_000,
    ) as StreamEntryReply[];
    if (batch.length === 0) break;
    rawRead += batch.length;
    rawLast = batch[batch.length - 1]![0];
  }
  const rawRate = rawRead / ((performance.now() - rawStarted) / 1000);
  const state = createState();
  const started = performance.now();
  let replayed = 0;
  let applyMs = 0;
  // Read as bytes, as the engine's catch-up reads (see decodeFlatBytes).
  const read = (afterId: string) =>
    redis.xrangeBuffer(INPUT_STREAM, `(${afterId}`, "+", "COUNT", 10_000) as Promise<
      StreamEntryBytes[]
    >;
  let pending = read(state.lastId);
  for (;;) {
    const batch = await pending;
    if (batch.length === 0) break;
    pending = read(idText(batch[batch.length - 1]![0]));
    const t = performance.now();
    applyBatch(state, batch, "0-0");
    applyMs += performance.now() - t;
    replayed += batch.length;
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    replayed,
    seconds,
    rate: replayed / seconds,
    applyRate: replayed / (applyMs / 1000),
    rawRate,
  };
}

async function restartToServing(redis: RedisClient, databaseUrl: string, backlog: number) {
  await flush(redis);
  const env = {
    ...Deno.env.toObject(),
    ...REDIS_ENV,
    DATABASE_URL: databaseUrl,
    JWT_SECRET: "x".repeat(32),
    SNAPSHOT_INTERVAL_MS: "1000",
  };
  // A first engine builds up state and a snapshot, then stops.
  await fill(redis, backlog);
  const first = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "engine/main.ts"],
    env,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  await waitFor(first, "snapshot saved");
  first.kill("SIGKILL");
  await first.status;
  // 10 s of traffic arrives while it is down.
  await fill(redis, backlog, 1_000_000);
  const started = performance.now();
  const second = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "engine/main.ts"],
    env,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const line = await waitFor(second, '"ready":true'); // the engine's ready line: it serves
  const elapsed = performance.now() - started;
  second.kill("SIGTERM");
  await second.status;
  return { elapsedMs: elapsed, line };
}

async function waitFor(child: Deno.ChildProcess, text: string): Promise<string> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`process ended before "${text}"`);
    buffer += value;
    const line = buffer.split("\n").find((l) => l.includes(text));
    if (line) {
      reader.releaseLock();
      child.stdout.cancel().catch(() => {});
      return line;
    }
  }
}

async function snapshotStall(databaseUrl: string, count: number) {
  const sql = postgres(databaseUrl, { onnotice: () => {}, max: 2 });
  await migrate(sql);
  const state = createState();
  let seq = 0;
  const id = () => `1700000000000-${++seq}`;
  apply(state, { kind: "price", asset: "ETH", bid: 350_000n, ask: 350_010n, ts: 0n }, id());
  for (let i = 0; i < count; i++) {
    const userId = `user-${i.toString(36).padStart(8, "0")}-0000-0000-000000000000`;
    apply(state, { kind: "create_account", requestId: "a", userId }, id());
    apply(state, {
      kind: "open",
      requestId: "r",
      userId,
      asset: "ETH",
      side: i % 2 ? "long" : "short",
      marginCents: 1000n,
      leverage: 1 + (i % 100),
      slippageBps: 10_000,
      expectedPrice: 350_005n,
      stopLoss: undefined,
      takeProfit: undefined,
    }, id());
  }
  const store = new SnapshotStore(sql, log);
  let saved: { bytes: number; totalMs: number } | undefined;
  const snapshotter = new Snapshotter(state, store, log, 1, (_meta, stats) => {
    saved = stats;
    return Promise.resolve();
  });
  // Measure what the loop would feel: the longest gap between 1 ms ticks during the snapshot.
  let worstLagMs = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    worstLagMs = Math.max(worstLagMs, now - last - 1);
    last = now;
  }, 1);
  snapshotter.maybeStart(Date.now());
  await snapshotter.settle();
  clearInterval(ticker);
  await sql.end();
  return { worstLagMs, ownStallMs: snapshotter.worstStallMs, ...saved! };
}

/** Empties the bench's Redis: its database, or every master of the cluster. */
async function flush(redis: RedisClient): Promise<void> {
  if (redis instanceof Cluster) await Promise.all(redis.nodes("master").map((n) => n.flushdb()));
  else await redis.flushdb();
}

const redis = connectRedis(
  CLUSTER_NODES === undefined ? REDIS_URL : { clusterNodes: parseClusterNodes(CLUSTER_NODES) },
  { name: "recovery-bench", log },
);
const admin = postgres(ADMIN_URL, { onnotice: () => {}, max: 1 });
const dbName = `bench_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
await admin.unsafe(`CREATE DATABASE ${dbName}`);
const databaseUrl = `postgres://postgres@127.0.0.1:5432/${dbName}`;
try {
  console.log(
    `recovery benchmark — ${navigator.hardwareConcurrency} cores, Redis ${
      CLUSTER_NODES === undefined ? REDIS_URL : `Cluster ${CLUSTER_NODES}`
    }`,
  );
  const entries = quick ? 100_000 : 1_000_000;
  for (const every of [20, 200]) {
    const replay = await replayRate(redis, entries, every);
    console.log(
      `\n(a) replay, ${200 / every} % instructions: ${fmt(replay.replayed)} entries in ` +
        `${replay.seconds.toFixed(2)} s = ${
          fmt(replay.rate)
        } entries/s read from Redis and applied ` +
        `(target >= 300,000); validation + apply alone ${fmt(replay.applyRate)} entries/s`,
    );
    rows.push({
      section: "recovery",
      measure: `replay of ${fmt(replay.replayed)} entries, ${200 / every} % instructions`,
      value: replay.rate,
      unit: "entries/s",
      reference: {
        label: "ioredis XRANGE of the same stream as strings, no processing",
        value: replay.rawRate,
      },
      target: "≥ 300,000",
    });
  }
  const backlog = quick ? 10_000 : 50_000;
  const restart = await restartToServing(redis, databaseUrl, backlog);
  console.log(
    `\n(b) restart to serving with ${fmt(backlog)} entries of backlog after the snapshot ` +
      `(10 s at 5,000 entries/s): ${
        (restart.elapsedMs / 1000).toFixed(2)
      } s from spawn (target <= 3 s)`,
  );
  const bareStart = performance.now();
  await new Deno.Command(Deno.execPath(), { args: ["eval", "0"], stdout: "null" }).output();
  rows.push({
    section: "recovery",
    measure: `restart to serving: snapshot + ${fmt(backlog)} entries of backlog (10 s at 5,000/s)`,
    value: restart.elapsedMs / 1000,
    unit: "s",
    reference: { label: "bare `deno eval 0` start", value: (performance.now() - bareStart) / 1000 },
    target: "≤ 3 s",
  });
  const count = quick ? 10_000 : 100_000;
  const stall = await snapshotStall(databaseUrl, count);
  console.log(
    `\n(c) snapshot of ${fmt(count)} accounts + ${fmt(count)} positions written to Postgres: ` +
      `longest event-loop stall ${stall.worstLagMs.toFixed(1)} ms (its own slices at most ` +
      `${stall.ownStallMs.toFixed(1)} ms), ${
        (stall.bytes / 1_048_576).toFixed(1)
      } MiB in ${stall.totalMs} ms (target <= 50 ms)`,
  );
  rows.push({
    section: "snapshot",
    measure: `longest event-loop stall while ${fmt(count)} accounts + ${
      fmt(count)
    } positions go to Postgres (${
      (stall.bytes / 1_048_576).toFixed(1)
    } MiB in ${stall.totalMs} ms)`,
    value: stall.worstLagMs,
    unit: "ms",
    target: "≤ 50 ms",
  });
  if (Deno.args.includes("--rows")) console.log(`BENCH_ROWS ${JSON.stringify(rows)}`);
} finally {
  await flush(redis);
  redis.disconnect();
  await admin.unsafe(`DROP DATABASE ${dbName} WITH (FORCE)`);
  await admin.end();
}
