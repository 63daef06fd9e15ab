/**
 * Candles end to end with the real processes: the simulator's day of history backfilled by the
 * poller and written by the engine's candle writer, live bid candles after it, both through
 * `GET /candles`; and the gateway's `candles.<ASSET>.<interval>` channel (no token), at most 4
 * messages a second, the latest state of each candle winning.
 */
import assert from "node:assert/strict";
import { CANDLES_STREAM } from "@trading/shared/redis";
import { DEFAULT_SIM_MARKETS } from "../poller/sim.ts";
import { simKlines } from "../poller/sim_klines.ts";
import { eventually, http, sleep, withEnv, WsClient } from "./harness.ts";

interface CandleJson {
  t: number;
  o: string;
  h: string;
  l: string;
  c: string;
  n: number;
}

Deno.test("the simulator's day of candles is backfilled, then bid candles follow it", async () => {
  await withEnv({}, async (env) => {
    await env.startSim();
    await env.startEngine();
    await env.startApi();
    const startedMs = Date.now();
    env.startPoller();
    const candles = async (query: string) =>
      (await http<{ candles: CandleJson[] }>(env.api, "GET", `/candles?${query}`)).body.candles;

    // SOL's minutes come last in the backfill: a day of its hours means all of it is in.
    await eventually(
      "a day of SOL hours",
      async () => (await candles("asset=SOL&interval=1h&limit=1000")).length >= 24,
      30_000,
    );
    assert.equal((await candles("asset=SOL&interval=1m&limit=1000")).length, 1000);
    const hours = await candles("asset=BTC&interval=1h&limit=1000");
    assert.ok(hours.length >= 24 && hours.length <= 26, `${hours.length} hours`);
    const days = await candles("asset=ETH&interval=1d");
    assert.ok(days.length >= 1 && days.length <= 2, `${days.length} days`);
    assert.equal(days.reduce((n, c) => n + c.n, 0) > 1440, true, "a day of trades and quotes");

    // A backfilled minute is the simulator's own candle for it, exactly.
    const minutes = await candles(`asset=SOL&interval=1m&limit=3&before=${startedMs - 600_000}`);
    assert.equal(minutes.length, 3);
    const sol = DEFAULT_SIM_MARKETS.find((m) => m.market === "SOL_USDC_PERP")!;
    const [expected] = simKlines(sol, 42, minutes[0]!.t, minutes[0]!.t);
    assert.deepEqual(minutes[0], {
      t: minutes[0]!.t,
      o: String(Number(expected!.open)),
      h: String(Number(expected!.high)),
      l: String(Number(expected!.low)),
      c: String(Number(expected!.close)),
      n: Number(expected!.trades),
    });

    // Live: the current minute's candle counts the bid quotes (20 a second in tests).
    await eventually("a bid candle of this minute", async () => {
      const [last] = await candles("asset=BTC&interval=1m&limit=1");
      return last !== undefined && last.t >= startedMs - 60_000 && last.n >= 10;
    }, 20_000);
    const [row] = await env.sql<{ source: string }[]>`
      SELECT source FROM candles WHERE interval = '1m' AND asset = 'BTC' ORDER BY t DESC LIMIT 1`;
    assert.equal(row!.source, "bid", "the newest minute is the bid's, not the exchange's");
  });
});

Deno.test("gateway: candles.<ASSET>.<interval> without a token, at most 4 a second, latest wins", async () => {
  await withEnv({}, async (env) => {
    await env.startGateway();
    const ws = await WsClient.connect(`ws://127.0.0.1:${env.ports.gateway}/ws`);
    try {
      ws.send({ type: "subscribe", channels: ["candles.BTC.1m"] });
      await eventually("subscribed", () => ws.messages.some((m) => m.type === "subscribed"));
      ws.send({ type: "subscribe", channels: ["candles.BTC.2m"] });
      await eventually(
        "an unknown channel refused",
        () => ws.messages.some((m) => m.type === "error" && m.code === "unknown_channel"),
      );

      // 2 s of the writer's entries at 50 a second: BTC 1m (subscribed) and ETH 1m (not), and
      // garbage between them, which must change nothing.
      const t = Date.UTC(2026, 0, 1);
      const startMs = performance.now();
      for (let n = 1; n <= 100; n++) {
        const candle = (asset: string) => ({
          asset,
          interval: "1m",
          t,
          o: "100",
          h: "110.5",
          l: "90",
          c: "101",
          n,
        });
        await env.redis.xadd(
          CANDLES_STREAM,
          "*",
          "candles",
          JSON.stringify([candle("BTC"), candle("ETH")]),
        );
        if (n % 10 === 0) {
          await env.redis.xadd(CANDLES_STREAM, "*", "candles", '[{"asset":"BTC","n":"x"}]');
          await env.redis.xadd(CANDLES_STREAM, "*", "candles", "not json");
        }
        await sleep(20);
      }
      const sentForMs = performance.now() - startMs;
      await sleep(600);
      const received = ws.messages.filter((m) => m.type === "candle");
      assert.ok(received.every((m) => m.asset === "BTC" && m.interval === "1m"));
      const allowed = Math.ceil((sentForMs + 600) / 250) + 1;
      assert.ok(
        received.length >= 4 && received.length <= allowed,
        `${received.length} messages in ${Math.round(sentForMs)} ms (at most ${allowed})`,
      );
      assert.deepEqual(received.at(-1), {
        type: "candle",
        asset: "BTC",
        interval: "1m",
        t,
        o: "100",
        h: "110.5",
        l: "90",
        c: "101",
        n: 100,
      }, "the latest state arrives last");
      const counts = received.map((m) => m.n as number);
      assert.deepEqual(counts, [...counts].sort((a, b) => a - b), "in order");
    } finally {
      ws.close();
    }
  });
});

Deno.test("on a Redis Cluster: quotes through the writer to /candles and to the gateway's channel", async () => {
  await withEnv({}, async (env) => {
    await env.startAll();
    const ws = await WsClient.connect(`ws://127.0.0.1:${env.ports.gateway}/ws`);
    try {
      ws.send({ type: "subscribe", channels: ["candles.ETH.5m"] });
      const live = await eventually(
        "a live ETH 5m candle",
        () =>
          ws.messages.find((m) =>
            m.type === "candle" && m.asset === "ETH" && m.interval === "5m" &&
            (m.t as number) > Date.now() - 600_000
          ),
        20_000,
      );
      const { body } = await http<{ candles: CandleJson[] }>(
        env.api,
        "GET",
        "/candles?asset=ETH&interval=5m&limit=2",
      );
      const stored = body.candles.find((c) => c.t === live.t);
      assert.ok(stored !== undefined, "the pushed candle is the stored one");
      assert.ok(stored.n >= (live.n as number), "and it only grows");
    } finally {
      ws.close();
    }
  }, { cluster: true });
});
