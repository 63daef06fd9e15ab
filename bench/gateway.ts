/**
 * Gateway fan-out: latency from a price entering engine:input to its arrival at every
 * WebSocket client subscribed to prices, for 1,000 and 5,000 clients, next to the same
 * measurement with one client. The clients are lean raw-TCP readers (ws_reader.ts): with
 * 5,000 Deno WebSocket objects in the load generator, it was the load generator's own cost
 * per message that set the latency (p99 ~1 s while the gateway was mostly idle).
 */
import { INPUT_STREAM } from "@trading/shared/redis";
import { Env, sleep } from "../tests/harness.ts";
import { histogram, type Row } from "./lib.ts";
import { openWsReader, type WsReader } from "./ws_reader.ts";

async function fanOut(env: Env, clients: number, prices: number) {
  const latency = histogram();
  const readers: WsReader[] = [];
  let received = 0;
  const onText = (text: string) => {
    if (!text.startsWith('{"type":"price"')) return;
    const at = text.indexOf('"ts":');
    if (at < 0) return;
    received++;
    // The injected ts is the send time in ms (as µs on the wire, as Backpack's E).
    const ts = Number.parseInt(text.slice(at + 5), 10);
    latency.recordValue(Math.max(1, Math.round((Date.now() - ts) * 1000)));
  };
  for (let i = 0; i < clients; i += 200) {
    readers.push(
      ...await Promise.all(
        Array.from(
          { length: Math.min(200, clients - i) },
          () =>
            openWsReader(
              env.ports.gateway,
              '{"type":"subscribe","channels":["prices.BTC"]}',
              onText,
            ),
        ),
      ),
    );
  }
  await sleep(300);
  for (let i = 0; i < prices; i++) {
    const bid = 9_700_000 + i;
    await env.redis.xadd(INPUT_STREAM, "*", "price", `BTC ${bid} ${bid + 10} ${Date.now() * 1000}`);
    await sleep(100);
  }
  await sleep(1000);
  for (const reader of readers) reader.close();
  await sleep(200);
  return {
    p50: latency.getValueAtPercentile(50) / 1000,
    p99: latency.getValueAtPercentile(99) / 1000,
    received,
  };
}

export async function gatewayBench(
  clientCounts: readonly number[],
  prices: number,
): Promise<Row[]> {
  const env = await Env.create({ SNAPSHOT_INTERVAL_MS: "600000" });
  try {
    await env.startEngine();
    await env.startGateway();
    const one = await fanOut(env, 1, prices);
    const rows: Row[] = [];
    for (const clients of clientCounts) {
      const r = await fanOut(env, clients, prices);
      console.log(
        `  ${clients} clients: p50 ${r.p50.toFixed(1)} ms, p99 ${
          r.p99.toFixed(1)
        } ms, ${r.received} deliveries`,
      );
      rows.push({
        section: "gateway",
        measure: `price fan-out to ${clients.toLocaleString("en-US")} clients, p99 (p50 ${
          r.p50.toFixed(1)
        } ms, ${r.received.toLocaleString("en-US")} deliveries, ms resolution)`,
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
