/**
 * HTTP end to end, open loop: trade/create + trade/close through the API, Redis and the
 * engine at rising planned rates. Latency counts from the planned send time, so a stall shows
 * up instead of slowing the generator down. The load generator shares the machine's cores;
 * each rate also reports the CPU time each process spent per trade (from /proc), which says
 * what a higher rate would need whatever the latency on a given day.
 */
import { Cluster, type Redis } from "ioredis";
import { INPUT_STREAM } from "@trading/shared/redis";
import { encodeInput } from "@trading/shared/schemas";
import { Env, eventually, freePort, newUser, type Proc } from "@trading/testing";
import { HttpPool } from "./http_client.ts";
import { cpuSeconds, histogram, machineBusySeconds, type Row, sleep } from "./lib.ts";

/**
 * Closed-loop requests/s of a bare `Deno.serve` hello world in a process of its own, driven by
 * the same client and connection count as the trading API.
 */
async function helloRate(seconds: number): Promise<number> {
  const port = freePort();
  const server = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./hello_server.ts", import.meta.url).pathname, String(port)],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  try {
    const pool = new HttpPool(port, CONNECTIONS);
    await eventually(
      "the hello server",
      () => pool.request("GET", "/").then((a) => a.status === 200),
    );
    let done = 0;
    const until = performance.now() + seconds * 1000;
    await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < until) {
        await pool.request("GET", "/");
        done++;
      }
    }));
    pool.close();
    return done / seconds;
  } finally {
    server.kill("SIGKILL");
    await server.status;
  }
}

/**
 * Trades (create, then close) started at a fixed planned rate for `seconds`, whatever the
 * answers' pace; each trade's latency runs from its planned start to the close's answer. With
 * several pools (one per API process) the trades alternate between them, a trade's create and
 * close through the same one.
 */
export async function openLoop(
  pools: readonly HttpPool[],
  users: readonly { token: string }[],
  rate: number,
  seconds: number,
) {
  const latency = histogram();
  /** How late each trade's create left the load generator, after its planned time. */
  const lateness = histogram();
  let errors = 0;
  const count = Math.round(rate * seconds);
  const t0 = performance.now() + 50;
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const planned = t0 + (i * 1000) / rate;
    const wait = planned - performance.now();
    if (wait > 1) await sleep(wait);
    lateness.recordValue(Math.max(1, Math.round((performance.now() - planned) * 1000)));
    const user = users[i % users.length]!;
    const pool = pools[i % pools.length]!;
    inflight.push((async () => {
      const headers = `authorization: Bearer ${user.token}\r\n`;
      const open = await pool.post(
        "/api/v1/trade/create",
        headers,
        '{"asset":"ETH","type":"long","margin":100,"leverage":2,"slippage":1000}',
      );
      if (open.status !== 200) {
        errors++;
        return;
      }
      const { orderId } = JSON.parse(open.body) as { orderId: string };
      const close = await pool.post("/api/v1/trade/close", headers, JSON.stringify({ orderId }));
      if (close.status !== 200) errors++;
      latency.recordValue(Math.max(1, Math.round((performance.now() - planned) * 1000)));
    })());
  }
  await Promise.all(inflight);
  return { latency, lateness, errors, count };
}

/**
 * What the CPU cost per trade at the highest rate run implies, whatever the latency on the day:
 * the cores 5,000 trades/s takes on this machine (everything: API, engine, Redis, Postgres,
 * kernel and load generator), and the most trades/s one API process can serve (its JS runs on
 * one thread; its CPU time per trade is the measure). A trade costs less at higher rates (more
 * work per wake-up), so from a low rate these are pessimistic.
 */
function capacityRows(cost: { rate: number; machineMicros: number; apiMicros: number }): Row[] {
  const measure = `at ${cost.rate}/s; less at higher rates`;
  return [{
    section: "http",
    measure: `cores 5,000 trades/s takes (whole machine's CPU per trade ${measure})`,
    value: Math.round(cost.machineMicros * 5000 / 1e4) / 100,
    unit: "cores",
    reference: { label: "cores this machine has", value: navigator.hardwareConcurrency },
  }, {
    section: "http",
    measure: `most trades/s one API process can serve (its CPU per trade ${measure})`,
    value: Math.round(1e6 / cost.apiMicros),
    unit: "trades/s",
  }];
}

/**
 * The Redis server's pid when it runs on this machine (for its CPU time), else NaN. On a
 * cluster: the master holding the engine's keys (the one whose CPU the trades cost).
 */
export async function redisPid(env: Env): Promise<number> {
  let server: Redis = env.redis as Redis;
  if (env.redis instanceof Cluster) {
    const slot = await env.redis.cluster("KEYSLOT", INPUT_STREAM) as number;
    const counts = await Promise.all(
      env.redis.nodes("master").map(async (node) => ({
        node,
        owns: await node.cluster("COUNTKEYSINSLOT", slot) as number > 0,
      })),
    );
    server = counts.find((c) => c.owns)?.node ?? server;
  }
  const info = await server.info("server");
  const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
  try {
    return Deno.readTextFileSync(`/proc/${pid}/comm`).startsWith("redis") ? pid : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Keep-alive connections of the load generator (an open loop queues behind them if all busy). */
export const CONNECTIONS = 128;

/** What the HTTP sections drive: the engine and one API in a fresh Env, prices, 40 users. */
export interface TradingSystem {
  env: Env;
  engine: Proc;
  api: Proc;
  users: readonly { token: string }[];
  /** The Redis server's pid (NaN when it is not on this machine). */
  redisPid: number;
  /**
   * Stops the price feed (the bench writes three quotes every 200 ms), so a measurement of
   * something else does not count its cost; `resumeFeed` writes fresh quotes before it returns,
   * so no trade after it meets a quote gone stale meanwhile.
   */
  pauseFeed(): void;
  resumeFeed(): Promise<void>;
  close(): Promise<void>;
}

/** Starts the engine and an API (`apiEnv` added to its environment), the feed and the users. */
export async function startTradingSystem(
  apiEnv: Record<string, string> = {},
): Promise<TradingSystem> {
  const env = await Env.create({ SNAPSHOT_INTERVAL_MS: "600000", ENGINE_TIMEOUT_MS: "5000" });
  let running = true;
  let paused = false;
  const feedOnce = async () => {
    const pipeline = env.redis.pipeline();
    for (const asset of ["BTC", "ETH", "SOL"]) {
      const price = { kind: "price", asset, bid: 350_000n, ask: 350_010n, ts: 0n } as const;
      pipeline.xadd(INPUT_STREAM, "*", ...Object.entries(encodeInput(price)).flat());
    }
    await pipeline.exec();
  };
  let feed: Promise<void> = Promise.resolve();
  const stop = async () => {
    running = false;
    await feed;
    await env.close();
  };
  try {
    const engine = await env.startEngine();
    const api = await env.startApi(apiEnv);
    feed = (async () => {
      while (running) {
        if (!paused) await feedOnce();
        await sleep(200);
      }
    })();
    const users = await Promise.all(Array.from({ length: 40 }, () => newUser(env.api)));
    await eventually("prices at the API", async () => {
      const r = await fetch(`${env.api}/prices`).then((x) => x.json());
      return r.prices.length === 3;
    });
    return {
      env,
      engine,
      api,
      users,
      redisPid: await redisPid(env),
      pauseFeed: () => {
        paused = true;
      },
      resumeFeed: async () => {
        await feedOnce();
        paused = false;
      },
      close: stop,
    };
  } catch (error) {
    // What the processes said: a system that does not start is otherwise a bare timeout.
    console.error(env.logs(20));
    await stop();
    throw error;
  }
}

/**
 * `minTrades` a rate at least, however short `secondsPerRate` makes it: a p99 of 300 trades
 * (3 s at 100/s) is its 3rd-worst trade.
 */
export async function httpBench(
  rates: readonly number[],
  secondsPerRate: number,
  minTrades = 0,
): Promise<Row[]> {
  const system = await startTradingSystem();
  const { engine, api, users } = system;
  const rows: Row[] = [];
  try {
    const reference = await helloRate(2);
    const pool = new HttpPool(system.env.ports.api, CONNECTIONS);
    const pids = {
      api: api.child.pid,
      engine: engine.child.pid,
      redis: system.redisPid,
      "load generator": Deno.pid,
    };
    // Unrecorded warm-up at the first rate: JIT and connection pools, not the system, at first.
    await openLoop([pool], users, rates[0]!, 2);
    let best = 0;
    let cost = { rate: 0, machineMicros: Number.NaN, apiMicros: Number.NaN };
    for (const rate of rates) {
      const before = Object.values(pids).map(cpuSeconds);
      const machineBefore = machineBusySeconds();
      const wallBefore = performance.now();
      const seconds = Math.max(secondsPerRate, minTrades / rate);
      const { latency, errors, count } = await openLoop([pool], users, rate, seconds);
      const machineMicros = (machineBusySeconds() - machineBefore) * 1e6 / count;
      const busy = machineMicros * count /
        ((performance.now() - wallBefore) * 10 * navigator.hardwareConcurrency);
      const micros = Object.values(pids).map((pid, i) =>
        (cpuSeconds(pid) - before[i]!) * 1e6 / count
      );
      cost = { rate, machineMicros, apiMicros: micros[0]! };
      const perProcess = Object.keys(pids).map((name, i) =>
        `${name} ${Number.isNaN(micros[i]!) ? "n/a" : Math.round(micros[i]!)}`
      ).join(", ");
      const cpu = `${perProcess}; whole machine ${Math.round(machineMicros)} (${
        Math.round(busy)
      } % of its cores busy)`;
      const p = (q: number) => latency.getValueAtPercentile(q) / 1000;
      console.log(
        `  ${rate} trades/s: p50 ${p(50).toFixed(1)} ms, p99 ${p(99).toFixed(1)} ms, ` +
          `p99.9 ${p(99.9).toFixed(1)} ms, errors ${errors}; CPU µs per trade: ${cpu}`,
      );
      rows.push({
        section: "http",
        measure: `trade/create + trade/close at ${rate}/s: p50 ${p(50).toFixed(1)} ms, p99.9 ${
          p(99.9).toFixed(1)
        } ms; CPU µs per trade: ${cpu}`,
        value: p(99),
        unit: "ms p99",
        target: "p99 ≤ 10 ms",
      });
      if (p(99) <= 10 && errors === 0) best = rate;
      if (p(99) > 200 || errors > count / 10) break;
    }
    rows.push({
      section: "http",
      measure: "highest rate with p99 ≤ 10 ms (load generator on the same 2 cores)",
      value: best,
      unit: "trades/s",
      reference: { label: "bare Deno.serve hello world, req/s, closed loop", value: reference },
      target: "≥ 5,000 trades/s",
    });
    rows.push(...capacityRows(cost));
    pool.close();
    return rows;
  } finally {
    await system.close();
  }
}
