/**
 * Gateway fan-out: latency from a price entering engine:input to its arrival at every
 * WebSocket client subscribed to prices, for 1,000 and 5,000 clients, next to the same
 * measurement with one client. The clients are lean raw-TCP readers (ws_reader.ts): with
 * 5,000 Deno WebSocket objects in the load generator, it was the load generator's own cost
 * per message that set the latency (p99 ~1 s while the gateway was mostly idle). They run in
 * worker threads (ws_reader_worker.ts, 2 by default, BENCH_READER_THREADS to change) so their
 * reads do not queue behind each other on one event loop. Next to the latency, the gateway's
 * own CPU time per delivery, read from /proc: the part of the fan-out that is ours, whatever
 * the load generator costs on the same cores; and the clients' CPU per delivery, which with the
 * gateway's gives the least time one price can take to reach everyone on this machine's cores.
 */
import { INPUT_STREAM } from "@trading/shared/redis";
import { encodeInput } from "@trading/shared/schemas";
import { Env, sleep } from "@trading/testing";
import { cpuSeconds, histogram, type Row } from "./lib.ts";

/** Asks a reader worker something and waits for its answer of the given type. */
function ask<T>(worker: Worker, message: unknown, answer: string): Promise<T> {
  return new Promise((resolve) => {
    const listener = (event: MessageEvent) => {
      if (event.data?.type !== answer) return;
      worker.removeEventListener("message", listener);
      resolve(event.data as T);
    };
    worker.addEventListener("message", listener);
    worker.postMessage(message);
  });
}

async function fanOut(
  env: Env,
  gatewayPid: number,
  clients: number,
  prices: number,
  threads: number,
) {
  const latency = histogram();
  const workers = Array.from(
    { length: Math.min(threads, clients) },
    () => new Worker(new URL("./ws_reader_worker.ts", import.meta.url), { type: "module" }),
  );
  try {
    await Promise.all(workers.map((worker, i) =>
      ask(worker, {
        type: "open",
        port: env.ports.gateway,
        count: Math.floor(clients / workers.length) + (i < clients % workers.length ? 1 : 0),
        subscribe: '{"type":"subscribe","channels":["prices.BTC"]}',
      }, "opened")
    ));
    await sleep(300);
    const cpuBefore = cpuSeconds(gatewayPid);
    const clientCpuBefore = cpuSeconds(Deno.pid);
    for (let i = 0; i < prices; i++) {
      const bid = BigInt(9_700_000 + i);
      const ts = BigInt(Date.now()) * 1000n;
      const price = encodeInput({ kind: "price", asset: "BTC", bid, ask: bid + 10n, ts });
      await env.redis.xadd(INPUT_STREAM, "*", ...Object.entries(price).flat());
      await sleep(100);
    }
    await sleep(1000);
    const gatewayCpuSeconds = cpuSeconds(gatewayPid) - cpuBefore;
    const clientCpuSeconds = cpuSeconds(Deno.pid) - clientCpuBefore;
    let received = 0;
    for (const worker of workers) {
      const { micros } = await ask<{ micros: Float64Array }>(worker, { type: "stop" }, "latencies");
      for (const value of micros) latency.recordValue(value);
      received += micros.length;
    }
    await sleep(200);
    return {
      p50: latency.getValueAtPercentile(50) / 1000,
      p99: latency.getValueAtPercentile(99) / 1000,
      received,
      gatewayMicrosPerDelivery: received > 0 ? gatewayCpuSeconds * 1e6 / received : Number.NaN,
      clientMicrosPerDelivery: received > 0 ? clientCpuSeconds * 1e6 / received : Number.NaN,
    };
  } finally {
    for (const worker of workers) worker.terminate();
  }
}

export async function gatewayBench(
  clientCounts: readonly number[],
  prices: number,
  threads = Number(Deno.env.get("BENCH_READER_THREADS") ?? 2),
): Promise<Row[]> {
  const env = await Env.create({ SNAPSHOT_INTERVAL_MS: "600000" });
  try {
    await env.startEngine();
    const gatewayPid = (await env.startGateway()).child.pid;
    const one = await fanOut(env, gatewayPid, 1, prices, threads);
    console.log(`  1 client: p50 ${one.p50.toFixed(1)} ms, p99 ${one.p99.toFixed(1)} ms`);
    const rows: Row[] = [];
    for (const clients of clientCounts) {
      const r = await fanOut(env, gatewayPid, clients, prices, threads);
      // Both sides' CPU for one price to every client, spread over every core at best.
      const floorMs = (r.gatewayMicrosPerDelivery + r.clientMicrosPerDelivery) * clients / 1000 /
        navigator.hardwareConcurrency;
      const cpu = `CPU µs per delivery: gateway ${r.gatewayMicrosPerDelivery.toFixed(1)}, clients ${
        r.clientMicrosPerDelivery.toFixed(1)
      }; all of it on ${navigator.hardwareConcurrency} cores takes ≥ ${
        floorMs.toFixed(0)
      } ms a price`;
      console.log(
        `  ${clients} clients: p50 ${r.p50.toFixed(1)} ms, p99 ${
          r.p99.toFixed(1)
        } ms, ${r.received} deliveries, ${cpu}`,
      );
      rows.push({
        section: "gateway",
        measure: `price fan-out to ${clients.toLocaleString("en-US")} clients, p99 (p50 ${
          r.p50.toFixed(1)
        } ms, ${
          r.received.toLocaleString("en-US")
        } deliveries, ms resolution; ${cpu}; ${threads} client threads)`,
        value: r.p99,
        unit: "ms",
        reference: { label: "same, 1 client", value: one.p99 },
        target: "p99 ≤ 50 ms",
      });
    }
    return rows;
  } finally {
    await env.close();
  }
}
