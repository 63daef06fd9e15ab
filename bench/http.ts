/**
 * HTTP end to end, open loop: trade/create + trade/close through the API, Redis and the
 * engine at rising planned rates. Latency counts from the planned send time, so a stall shows
 * up instead of slowing the generator down. The load generator shares the machine's cores.
 */
import { INPUT_STREAM } from "@trading/shared/redis";
import { Env, eventually, newUser } from "../tests/harness.ts";
import { histogram, type Row, sleep } from "./lib.ts";

async function helloRate(seconds: number): Promise<number> {
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    () => new Response("hello"),
  );
  const url = `http://127.0.0.1:${server.addr.port}/`;
  let done = 0;
  const until = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (performance.now() < until) {
      await (await fetch(url)).text();
      done++;
    }
  }));
  await server.shutdown();
  return done / seconds;
}

export async function httpBench(rates: readonly number[], secondsPerRate: number): Promise<Row[]> {
  const env = await Env.create({ SNAPSHOT_INTERVAL_MS: "600000", ENGINE_TIMEOUT_MS: "5000" });
  const rows: Row[] = [];
  let feeding = true;
  try {
    await env.startEngine();
    await env.startApi();
    const feed = (async () => {
      while (feeding) {
        const pipeline = env.redis.pipeline();
        for (const asset of ["BTC", "ETH", "SOL"]) {
          pipeline.xadd(INPUT_STREAM, "*", "price", `${asset} 350000 350010 0`);
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
    let best = 0;
    for (const rate of rates) {
      const latency = histogram();
      let errors = 0;
      const count = Math.round(rate * secondsPerRate);
      const t0 = performance.now() + 50;
      const inflight: Promise<void>[] = [];
      for (let i = 0; i < count; i++) {
        const planned = t0 + (i * 1000) / rate;
        const wait = planned - performance.now();
        if (wait > 1) await sleep(wait);
        const user = users[i % users.length]!;
        inflight.push((async () => {
          const headers = {
            authorization: `Bearer ${user.token}`,
            "content-type": "application/json",
          };
          const open = await fetch(`${env.api}/trade/create`, {
            method: "POST",
            headers,
            body: JSON.stringify({
              asset: "ETH",
              type: "long",
              margin: 100,
              leverage: 2,
              slippage: 1000,
            }),
          });
          const opened = await open.json();
          if (open.status !== 200) {
            errors++;
            return;
          }
          const close = await fetch(`${env.api}/trade/close`, {
            method: "POST",
            headers,
            body: JSON.stringify({ orderId: opened.orderId }),
          });
          await close.body?.cancel();
          if (close.status !== 200) errors++;
          latency.recordValue(Math.max(1, Math.round((performance.now() - planned) * 1000)));
        })());
      }
      await Promise.all(inflight);
      const p = (q: number) => latency.getValueAtPercentile(q) / 1000;
      console.log(
        `  ${rate} trades/s: p50 ${p(50).toFixed(1)} ms, p99 ${p(99).toFixed(1)} ms, ` +
          `p99.9 ${p(99.9).toFixed(1)} ms, errors ${errors}`,
      );
      rows.push({
        section: "http",
        measure: `trade/create + trade/close at ${rate}/s: p50 ${p(50).toFixed(1)} ms, p99.9 ${
          p(99.9).toFixed(1)
        } ms`,
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
    feeding = false;
    await feed;
    return rows;
  } finally {
    feeding = false;
    await env.close();
  }
}
