/**
 * Past one machine: the whole system on a private 3-master Redis Cluster (REDIS_CLUSTER_NODES),
 * with two API processes and two gateways. A user signs up on one API, trades on the other, and
 * gets the order events on either gateway; every engine key lives in one slot; and the crash
 * scenario (SIGKILLs of the engine, exactly-once answers, each ledger by state hash, one history
 * row per close, replay's hash) holds on the cluster as it does on one Redis.
 */
import assert from "node:assert/strict";
import type { Cluster } from "ioredis";
import {
  ENGINE_STATUS_KEY,
  INPUT_STREAM,
  OUTPUT_STREAM,
  PRICES_STREAM,
  replyStream,
  WRITTEN_KEY,
} from "@trading/shared/redis";
import { crashScenario } from "./crash_scenario.ts";
import {
  type Env,
  eventually,
  freePort,
  http,
  waitForPrices,
  withEnv,
  WsClient,
} from "./harness.ts";

type Order = Record<string, string | number>;

/** Starts sim, engine, poller, two APIs and two gateways; returns their addresses. */
async function startTwoOfEach(env: Env) {
  await env.startSim();
  await env.startEngine();
  env.startPoller();
  const apis = ["cluster-api-1", "cluster-api-2"];
  const apiPorts = [env.ports.api, freePort()];
  for (const [i, id] of apis.entries()) {
    await env.startApi({ API_ID: id, API_METRICS_PORT: String(freePort()) }, apiPorts[i]);
  }
  const gatewayPorts = [env.ports.gateway, freePort()];
  for (const port of gatewayPorts) {
    await env.startGateway({
      GATEWAY_PORT: String(port),
      GATEWAY_METRICS_PORT: String(freePort()),
    });
  }
  return {
    apiIds: apis,
    apis: apiPorts.map((port) => `http://127.0.0.1:${port}/api/v1`),
    gateways: gatewayPorts.map((port) => `ws://127.0.0.1:${port}/ws`),
  };
}

Deno.test("cluster: sign up on one API, trade on the other, events on either gateway", async () => {
  await withEnv({}, async (env) => {
    const redis = env.redis as Cluster;
    const { apiIds, apis, gateways } = await startTwoOfEach(env);
    const [one, two] = apis as [string, string];
    await waitForPrices(one);
    await waitForPrices(two);

    const email = `cluster-${crypto.randomUUID()}@example.com`;
    const credentials = { email, password: "correct horse battery" };
    assert.equal((await http(one, "POST", "/signup", { body: credentials })).status, 201);
    const signin = await http<{ token: string }>(two, "POST", "/signin", { body: credentials });
    assert.equal(signin.status, 200);
    const { token } = signin.body;

    const sockets = await Promise.all(
      gateways.map((url) => WsClient.connect(`${url}?token=${token}`)),
    );
    for (const socket of sockets) socket.send({ type: "subscribe", channels: ["orders"] });
    await eventually(
      "both subscribed",
      () => sockets.every((s) => s.messages.some((m) => m.type === "subscribed")),
    );

    await env.setPrice("BTC_USDC_PERP", "97000.0", "97000.5");
    await eventually("the pinned BTC quote on both APIs", async () => {
      for (const base of apis) {
        const { body } = await http<{ prices: Order[] }>(base, "GET", "/prices");
        if (!body.prices.some((p) => p.asset === "BTC" && p.bid === "97000")) return false;
      }
      return true;
    });
    const opened = await http<Order>(two, "POST", "/trade/create", {
      token,
      body: { asset: "BTC", type: "long", margin: 10_000, leverage: 10, slippage: 100 },
    });
    assert.equal(opened.status, 200, JSON.stringify(opened.body));
    const closed = await http<Order>(one, "POST", "/trade/close", {
      token,
      body: { orderId: opened.body.orderId },
    });
    assert.equal(closed.status, 200, JSON.stringify(closed.body));

    // Both gateways push both events, once each.
    for (const socket of sockets) {
      await eventually("opened and closed on the socket", () => socket.orders().length >= 2);
      assert.deepEqual(socket.orders().map((m) => [m.event, m.orderId]), [
        ["opened", opened.body.orderId],
        ["closed", opened.body.orderId],
      ]);
      socket.close();
    }
    const balance = await http<{ balance: number }>(one, "GET", "/balance/usd", { token });
    assert.equal(balance.body.balance, 500_000 + Number(closed.body.pnl));

    // Every key of the engine is in one slot; the cluster spreads other keys over its nodes.
    const keys = [
      INPUT_STREAM,
      OUTPUT_STREAM,
      PRICES_STREAM,
      ENGINE_STATUS_KEY,
      WRITTEN_KEY,
      ...apiIds.map(replyStream),
    ];
    for (const key of keys) assert.equal(await redis.exists(key), 1, `${key} exists`);
    const slots = new Set(await Promise.all(keys.map((key) => redis.cluster("KEYSLOT", key))));
    assert.equal(slots.size, 1);
    const masters = redis.nodes("master");
    assert.equal(masters.length, 3);
    const [slot] = [...slots];
    const holding = await Promise.all(
      masters.map((node) => node.cluster("COUNTKEYSINSLOT", slot!) as Promise<number>),
    );
    assert.deepEqual(
      holding.map((count) => count >= keys.length),
      holding.map((_, i) => i === holding.indexOf(Math.max(...holding))),
    );
    assert.equal(holding.filter((count) => count > 0).length, 1, "one master holds them all");
  }, { cluster: true });
});

Deno.test("cluster: SIGKILLs of the engine: same hash, one answer each, one row each, replay agrees", async () => {
  await withEnv({ SNAPSHOT_INTERVAL_MS: "150", LOG_LEVEL: "debug" }, async (env) => {
    await crashScenario(env, {
      ops: 2000,
      kills: 6,
      newReader: () => env.redisCluster!.client(),
    });
  }, { cluster: true });
});
