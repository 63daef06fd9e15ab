/**
 * HTTP end to end, open loop: trade/create + trade/close through the API, Redis and the
 * engine at rising planned rates. Latency counts from the planned send time, so a stall shows
 * up instead of slowing the generator down. The load generator shares the machine's cores;
 * each rate also reports the CPU time each process spent per trade (from /proc), which says
 * what a higher rate would need whatever the latency on a given day.
 */
import { INPUT_STREAM } from "@trading/shared/redis";
import { encodeInput } from "@trading/shared/schemas";
import { Env, eventually, freePort, newUser } from "@trading/testing";
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
 * answers' pace; each trade's latency runs from its planned start to the close's answer.
 */
async function openLoop(
  pool: HttpPool,
  users: readonly { token: string }[],
  rate: number,
  seconds: number,
) {
  const latency = histogram();
  let errors = 0;
  const count = Math.round(rate * seconds);
  const t0 = performance.now() + 50;
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const planned = t0 + (i * 1000) / rate;
    const wait = planned - performance.now();
    if (wait > 1) await sleep(wait);
    const user = users[i % users.length]!;
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
  return { latency, errors, count };
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

/** The Redis server's pid when it runs on this machine (for its CPU time), else NaN. */
async function redisPid(env: Env): Promise<number> {
  const info = await env.redis.info("server");
  const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
  try {
    return Deno.readTextFileSync(`/proc/${pid}/comm`).startsWith("redis") ? pid : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Keep-alive connections of the load generator (an open loop queues behind them if all busy). */
const CONNECTIONS = 128;

/**
 * `minTrades` a rate at least, however short `secondsPerRate` makes it: a p99 of 300 trades
 * (3 s at 100/s) is its 3rd-worst trade.
 */
export async function httpBench(
  rates: readonly number[],
  secondsPerRate: number,
  minTrades = 0,
): Promise<Row[]> {
  const env = await Env.create({ SNAPSHOT_INTERVAL_MS: "600000", ENGINE_TIMEOUT_MS: "5000" });
  const rows: Row[] = [];
  let feeding = true;
  try {
    const engine = await env.startEngine();
    const api = await env.startApi();
    const feed = (async () => {
      while (feeding) {
        const pipeline = env.redis.pipeline();
        for (const asset of ["BTC", "ETH", "SOL"]) {
          const price = { kind: "price", asset, bid: 350_000n, ask: 350_010n, ts: 0n } as const;
          pipeline.xadd(INPUT_STREAM, "*", ...Object.entries(encodeInput(price)).flat());
        }
        await pipeline.exec();
        await sleep(200);
      }
    })();
    const users = await Promise.all(Array.from({ length: 40 }, () => newUser(env.api)));
    await eventually("prices at the API", async () => {
      const r = await fetch(`${env.api}/prices`).then((x) => x.json());
      return r.prices.length === 3;
    });
    const reference = await helloRate(2);
    const pool = new HttpPool(env.ports.api, CONNECTIONS);
    const pids = {
      api: api.child.pid,
      engine: engine.child.pid,
      redis: await redisPid(env),
      "load generator": Deno.pid,
    };
    // Unrecorded warm-up at the first rate: JIT and connection pools, not the system, at first.
    await openLoop(pool, users, rates[0]!, 2);
    let best = 0;
    let cost = { rate: 0, machineMicros: Number.NaN, apiMicros: Number.NaN };
    for (const rate of rates) {
      const before = Object.values(pids).map(cpuSeconds);
      const machineBefore = machineBusySeconds();
      const wallBefore = performance.now();
      const seconds = Math.max(secondsPerRate, minTrades / rate);
      const { latency, errors, count } = await openLoop(pool, users, rate, seconds);
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
    feeding = false;
    await feed;
    return rows;
  } finally {
    feeding = false;
    await env.close();
  }
}
