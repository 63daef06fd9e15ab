/**
 * The whole system as processes over real Redis and Postgres: simulator → poller → engine →
 * API and gateway. One environment serves the journey, the triggers and two API processes.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { lastStreamId, OUTPUT_STREAM, replyStream } from "@trading/shared/redis";
import { decodeOutput, outputHeader } from "@trading/shared/schemas";
import { type Env, eventually, freePort, http, newUser, withEnv, WsClient } from "./harness.ts";
import { expectedPnlCents, expectedQuantity } from "./money_math.ts";

type Order = Record<string, string | number>;

/** The ids of the API processes running, from their ready lines. */
function apiIds(env: Env): string[] {
  return env.processes.filter((p) => p.name.startsWith("api")).map((p) => String(p.ready()?.apiId));
}

/** The order IDs of the `opened` answers in a reply stream. */
/**
 * Follows reply streams from their ends as they are written (each API trims its own to what it
 * has read, so they cannot be read back afterwards), keeping the order IDs of `opened` answers
 * per stream; every entry must be an answer.
 */
async function followOpened(env: Env, streams: string[]) {
  const reader = env.redisCluster?.client() ?? new Redis(env.env.REDIS_URL!);
  const ids = await Promise.all(streams.map((stream) => lastStreamId(env.redis, stream)));
  const opened: string[][] = streams.map(() => []);
  let running = true;
  const done = (async () => {
    while (running) {
      const reply = await reader.xread(
        "COUNT",
        1000,
        "BLOCK",
        100,
        "STREAMS",
        ...streams,
        ...ids,
      ) as
        | Array<[string, Array<[string, string[]]>]>
        | null;
      for (const [stream, entries] of reply ?? []) {
        const at = streams.indexOf(stream);
        for (const [id, flat] of entries) {
          ids[at] = id;
          const output = decodeOutput(flat);
          assert.equal(output?.kind, "answer", "a reply stream holds answers only");
          if (output?.kind === "answer" && output.ok && output.result.event === "opened") {
            opened[at]!.push(output.result.orderId);
          }
        }
      }
    }
  })();
  return {
    opened,
    async stop() {
      running = false;
      await done;
      reader.disconnect();
    },
  };
}

/** A quantity's decimal string as units of 1e-8, and back. */
function quantityUnits(text: string): bigint {
  const [whole, fraction = ""] = text.split(".");
  return BigInt(whole! + fraction.padEnd(8, "0"));
}

function quantityText(units: bigint): string {
  const text = units.toString().padStart(9, "0");
  return `${text.slice(0, -8)}.${text.slice(-8)}`.replace(/\.?0+$/, "");
}

async function pricesShow(base: string, asset: string, bid: string, ask: string) {
  await eventually(`${asset} at ${bid}/${ask}`, async () => {
    const { body } = await http<{ prices: Order[] }>(base, "GET", "/prices");
    return body.prices.some((p) => p.asset === asset && p.bid === bid && p.ask === ask);
  });
}

// The same journey on one Redis and on a private 3-master Redis Cluster (REDIS_CLUSTER_NODES
// for every process): nothing in it may depend on which.
for (const cluster of [false, true]) {
  Deno.test(
    `journey, triggers over the gateway, and two API processes${
      cluster ? ", on Redis Cluster" : ""
    }`,
    (t) => withEnv({}, (env) => journey(t, env), { cluster }),
  );
}

async function journey(t: Deno.TestContext, env: Env): Promise<void> {
  {
    await env.startAll();
    const base = env.api;

    await t.step("prices arrive from the simulator through the poller", async () => {
      const prices = await eventually("three prices", async () => {
        const { body } = await http<{ prices: Order[] }>(base, "GET", "/prices");
        return body.prices.length === 3 ? body.prices : undefined;
      });
      assert.deepEqual(prices.map((p) => p.asset).sort(), ["BTC", "ETH", "SOL"]);
      const health = await eventually("healthy", async () => {
        const result = await http(base, "GET", "/health");
        return result.status === 200 ? result.body : undefined;
      });
      assert.deepEqual([health.redis, health.postgres, health.engine], [true, true, true]);
    });

    await t.step(
      "open long and short, close, balance = 500000 + realized PnL exactly",
      async () => {
        const user = await newUser(base);
        assert.deepEqual((await http(base, "GET", "/balance/usd", { token: user.token })).body, {
          balance: 500000,
        });
        await env.setPrice("BTC_USDC_PERP", "97000.5", "97001.3");
        await env.setPrice("ETH_USDC_PERP", "3500.07", "3500.11");
        await pricesShow(base, "BTC", "97000.5", "97001.3");
        await pricesShow(base, "ETH", "3500.07", "3500.11");

        const long = await http<Order>(base, "POST", "/trade/create", {
          token: user.token,
          body: { asset: "BTC", type: "long", margin: 12345, leverage: 7, slippage: 50 },
        });
        assert.equal(long.status, 200, JSON.stringify(long.body));
        assert.equal(long.body.openPrice, "97001.3"); // a long fills at the ask
        assert.equal(long.body.quantity, expectedQuantity(12345, 7, "97001.3"));
        const short = await http<Order>(base, "POST", "/trade/create", {
          token: user.token,
          body: { asset: "ETH", type: "short", margin: 20000, leverage: 3, slippage: 50 },
        });
        assert.equal(short.status, 200, JSON.stringify(short.body));
        assert.equal(short.body.openPrice, "3500.07"); // a short fills at the bid
        assert.equal(short.body.quantity, expectedQuantity(20000, 3, "3500.07"));

        const balance = await http<{ usd: Order }>(base, "GET", "/balance", { token: user.token });
        assert.equal(balance.body.usd.balance, 500000 - 12345 - 20000);
        assert.equal(balance.body.usd.locked, 12345 + 20000);
        const open = await http<{ trades: Order[] }>(base, "GET", "/trades/open", {
          token: user.token,
        });
        assert.deepEqual(open.body.trades.map((o) => o.orderId), [
          long.body.orderId,
          short.body.orderId,
        ]);
        const longUnrealized = expectedPnlCents(
          "long",
          "97001.3",
          "97000.5",
          String(long.body.quantity),
        );
        const shortUnrealized = expectedPnlCents(
          "short",
          "3500.07",
          "3500.11",
          String(short.body.quantity),
        );
        assert.equal(open.body.trades[0]!.unrealizedPnl, Number(longUnrealized));
        assert.equal(open.body.trades[1]!.unrealizedPnl, Number(shortUnrealized));
        assert.equal(
          balance.body.usd.equity,
          500000 + Number(longUnrealized) + Number(shortUnrealized),
        );

        await env.setPrice("BTC_USDC_PERP", "98123.4", "98124.0");
        await env.setPrice("ETH_USDC_PERP", "3512.33", "3512.39");
        await pricesShow(base, "BTC", "98123.4", "98124");
        await pricesShow(base, "ETH", "3512.33", "3512.39");
        const closeLong = await http<Order>(base, "POST", "/trade/close", {
          token: user.token,
          body: { orderId: long.body.orderId },
        });
        const closeShort = await http<Order>(base, "POST", "/trade/close", {
          token: user.token,
          body: { orderId: short.body.orderId },
        });
        assert.equal(closeLong.status, 200);
        assert.equal(closeLong.body.closePrice, "98123.4"); // a long exits at the bid
        assert.equal(closeShort.body.closePrice, "3512.39"); // a short exits at the ask
        const pnlLong = expectedPnlCents("long", "97001.3", "98123.4", String(long.body.quantity));
        const pnlShort = expectedPnlCents(
          "short",
          "3500.07",
          "3512.39",
          String(short.body.quantity),
        );
        assert.equal(closeLong.body.pnl, Number(pnlLong));
        assert.equal(closeShort.body.pnl, Number(pnlShort));
        const final = await http(base, "GET", "/balance/usd", { token: user.token });
        assert.equal(final.body.balance, 500000 + Number(pnlLong) + Number(pnlShort));
        assert.equal(closeShort.body.balance, final.body.balance);

        const history = await eventually("two history rows", async () => {
          const { body } = await http<{ trades: Order[] }>(base, "GET", "/trades", {
            token: user.token,
          });
          return body.trades.length === 2 ? body.trades : undefined;
        }, 2000);
        assert.deepEqual(history.map((h) => h.reason), ["manual", "manual"]);
        assert.deepEqual(history.map((h) => h.orderId), [short.body.orderId, long.body.orderId]);
      },
    );

    await t.step(
      "a limit fills, modify, partial close, closeAll, cancel: balance = 500000 + realized PnL",
      async () => {
        const { token } = await newUser(base);
        await env.setPrice("BTC_USDC_PERP", "97000.5", "97001.3");
        await env.setPrice("ETH_USDC_PERP", "3500.07", "3500.11");
        await pricesShow(base, "BTC", "97000.5", "97001.3");
        await pricesShow(base, "ETH", "3500.07", "3500.11");
        const post = (path: string, body: unknown) =>
          http<Order>(base, "POST", path, { token, body });
        const get = <T>(path: string) => http<T>(base, "GET", path, { token });

        const limit = await post("/trade/create", {
          asset: "BTC",
          type: "long",
          margin: 10000,
          leverage: 10,
          orderType: "limit",
          triggerPrice: "96500",
        });
        assert.equal(limit.status, 200, JSON.stringify(limit.body));
        assert.equal(limit.body.status, "pending");
        assert.equal(limit.body.triggerPrice, "96500");
        const far = await post("/trade/create", {
          asset: "ETH",
          type: "long",
          margin: 4000,
          leverage: 5,
          orderType: "limit",
          triggerPrice: "3000",
        });
        assert.equal(far.body.status, "pending", JSON.stringify(far.body));
        const waiting = await get<{ orders: Order[] }>("/orders/pending");
        assert.deepEqual(waiting.body.orders.map((o) => o.orderId), [
          limit.body.orderId,
          far.body.orderId,
        ]);
        const reserved = await get<{ usd: Order }>("/balance");
        assert.deepEqual(reserved.body.usd, {
          balance: 500000 - 14000,
          locked: 0,
          pending: 14000,
          equity: 500000,
          marginLevel: null,
          decimals: 2,
        });

        // The ask falls to the limit: it fills at that ask.
        await env.setPrice("BTC_USDC_PERP", "96400.1", "96450.5");
        const filled = await eventually("the limit filled", async () => {
          const { body } = await get<{ trades: Order[] }>("/trades/open");
          return body.trades.find((trade) => trade.orderId === limit.body.orderId);
        });
        assert.equal(filled.openPrice, "96450.5");
        const quantity = expectedQuantity(10000, 10, "96450.5");
        assert.equal(filled.quantity, quantity);

        const modified = await post("/trade/modify", {
          orderId: limit.body.orderId,
          stopLoss: "95000",
        });
        assert.equal(modified.status, 200, JSON.stringify(modified.body));
        assert.equal(modified.body.stopLoss, "95000");
        assert.equal(modified.body.openPrice, "96450.5");
        assert.equal(typeof modified.body.unrealizedPnl, "number");

        const short = await post("/trade/create", {
          asset: "ETH",
          type: "short",
          margin: 6000,
          leverage: 3,
          slippage: 50,
        });
        assert.equal(short.status, 200, JSON.stringify(short.body));
        assert.equal(short.body.status, "open");
        assert.equal(short.body.openPrice, "3500.07");

        await env.setPrice("BTC_USDC_PERP", "96800.2", "96801");
        await env.setPrice("ETH_USDC_PERP", "3490.5", "3490.6");
        await pricesShow(base, "BTC", "96800.2", "96801");
        await pricesShow(base, "ETH", "3490.5", "3490.6");
        const half = quantityText(quantityUnits(quantity) / 2n);
        const partial = await post("/trade/close", { orderId: limit.body.orderId, quantity: half });
        assert.equal(partial.status, 200, JSON.stringify(partial.body));
        assert.equal(partial.body.closedQuantity, half);
        const rest = quantityText(quantityUnits(quantity) - quantityUnits(half));
        assert.equal(partial.body.remainingQuantity, rest);
        assert.equal(partial.body.closePrice, "96800.2");
        const pnls = [expectedPnlCents("long", "96450.5", "96800.2", half)];
        assert.equal(partial.body.pnl, Number(pnls[0]));

        const all = await http<{ closed: Order[]; balance: number }>(
          base,
          "POST",
          "/trade/closeAll",
          { token, body: {} },
        );
        assert.equal(all.status, 200, JSON.stringify(all.body));
        assert.deepEqual(all.body.closed.map((c) => [c.orderId, c.closedQuantity, c.closePrice]), [
          [limit.body.orderId, rest, "96800.2"],
          [short.body.orderId, short.body.quantity, "3490.6"],
        ]);
        pnls.push(
          expectedPnlCents("long", "96450.5", "96800.2", rest),
          expectedPnlCents("short", "3500.07", "3490.6", String(short.body.quantity)),
        );
        assert.deepEqual(all.body.closed.map((c) => c.pnl), pnls.slice(1).map(Number));
        assert.ok(all.body.closed.every((c) => c.remainingQuantity === "0"));

        const cancelled = await post("/order/cancel", { orderId: far.body.orderId });
        assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
        assert.deepEqual(cancelled.body, {
          orderId: far.body.orderId,
          status: "cancelled",
          balance: all.body.balance + 4000,
        });

        const ended = await get<{ orders: Order[] }>("/orders/history");
        assert.deepEqual(ended.body.orders.map((o) => [o.orderId, o.status]), [
          [far.body.orderId, "cancelled"],
          [limit.body.orderId, "filled"],
        ]);
        assert.deepEqual((await get<{ orders: Order[] }>("/orders/pending")).body.orders, []);

        const rows = await eventually("three history rows", async () => {
          const { body } = await get<{ trades: Order[] }>("/trades");
          return body.trades.length === 3 ? body.trades : undefined;
        }, 2000);
        assert.equal(new Set(rows.map((row) => row.closeId)).size, 3, "distinct closeIds");
        const btcRows = rows.filter((row) => row.orderId === limit.body.orderId);
        assert.deepEqual(btcRows.map((row) => row.closedQuantity).sort(), [half, rest].sort());
        assert.equal(btcRows.reduce((sum, row) => sum + Number(row.releasedMargin), 0), 10000);
        // Each row shows the position as it was just before its close.
        const first = btcRows.find((row) => row.closedQuantity === half)!;
        assert.deepEqual([first.quantity, first.margin], [quantity, 10000]);

        const realized = pnls.reduce((sum, pnl) => sum + pnl, 0n);
        const final = await get<{ usd: Order }>("/balance");
        assert.deepEqual(final.body.usd, {
          balance: 500000 + Number(realized),
          locked: 0,
          pending: 0,
          equity: 500000 + Number(realized),
          marginLevel: null,
          decimals: 2,
        });
      },
    );

    await t.step(
      "take-profit and liquidation reach only their owner over the gateway",
      async () => {
        const alice = await newUser(base);
        const bob = await newUser(base);
        const gateway = `ws://127.0.0.1:${env.ports.gateway}/ws`;
        const aliceWs = await WsClient.connect(`${gateway}?token=${alice.token}`);
        const bobWs = await WsClient.connect(`${gateway}?token=${bob.token}`);
        aliceWs.send({ type: "subscribe", channels: ["orders"] });
        bobWs.send({ type: "subscribe", channels: ["orders", "prices"] });
        await eventually(
          "subscriptions",
          () =>
            aliceWs.messages.some((m) => m.type === "subscribed") &&
            bobWs.messages.some((m) => m.type === "subscribed"),
        );

        await env.setPrice("SOL_USDC_PERP", "150.00", "150.02");
        await pricesShow(base, "SOL", "150", "150.02");
        const tp = await http<Order>(base, "POST", "/trade/create", {
          token: alice.token,
          body: {
            asset: "SOL",
            type: "long",
            margin: 10000,
            leverage: 10,
            slippage: 100,
            takeProfit: "155",
          },
        });
        const risky = await http<Order>(base, "POST", "/trade/create", {
          token: alice.token,
          body: { asset: "SOL", type: "long", margin: 10000, leverage: 50, slippage: 100 },
        });
        assert.equal(tp.status, 200, JSON.stringify(tp.body));
        assert.equal(risky.status, 200, JSON.stringify(risky.body));

        await env.setPrice("SOL_USDC_PERP", "155.10", "155.12");
        const tpEvent = await eventually(
          "take-profit event",
          () => aliceWs.orders().find((m) => m.event === "closed" && m.orderId === tp.body.orderId),
        );
        assert.equal(tpEvent.reason, "take_profit");
        assert.equal(tpEvent.closePrice, "155.1");
        assert.equal(
          tpEvent.pnl,
          Number(expectedPnlCents("long", "150.02", "155.1", String(tp.body.quantity))),
        );

        await env.setPrice("SOL_USDC_PERP", "140.00", "140.02");
        const liq = await eventually(
          "liquidation event",
          () =>
            aliceWs.orders().find((m) => m.event === "closed" && m.orderId === risky.body.orderId),
        );
        assert.equal(liq.reason, "liquidation");
        assert.equal(liq.closePrice, "140");

        const open = await http<{ trades: Order[] }>(base, "GET", "/trades/open", {
          token: alice.token,
        });
        assert.deepEqual(open.body.trades, []);
        const balance = await http(base, "GET", "/balance/usd", { token: alice.token });
        assert.equal(balance.body.balance, liq.balance);
        const expected = 500000 - 20000 + 10000 + Number(tpEvent.pnl) +
          Math.max(0, 10000 + Number(liq.pnl));
        assert.equal(balance.body.balance, expected);
        const history = await eventually("history of both closes", async () => {
          const { body } = await http<{ trades: Order[] }>(base, "GET", "/trades", {
            token: alice.token,
          });
          return body.trades.length === 2 ? body.trades : undefined;
        }, 2000);
        assert.deepEqual(history.map((h) => h.reason).sort(), ["liquidation", "take_profit"]);

        // Alice saw her two opens and two closes; Bob, subscribed all along, saw none of them.
        assert.equal(aliceWs.orders().length, 4);
        assert.deepEqual(bobWs.orders(), []);
        assert.ok(bobWs.messages.some((m) => m.type === "price"), "bob still gets prices");
        aliceWs.close();
        bobWs.close();
      },
    );

    await t.step("two API processes each get exactly their own answers", async () => {
      const secondPort = freePort();
      await env.startApi({ API_METRICS_PORT: String(freePort()) }, secondPort);
      const bases = [base, `http://127.0.0.1:${secondPort}/api/v1`];
      await env.setPrice("ETH_USDC_PERP", "3500.00", "3500.02");
      await pricesShow(bases[1]!, "ETH", "3500", "3500.02");
      const follower = await followOpened(env, apiIds(env).map(replyStream));
      const users = await Promise.all(Array.from({ length: 8 }, (_, i) => newUser(bases[i % 2]!)));
      const requests = users.flatMap((user, i) =>
        Array.from(
          { length: 5 },
          (_, j) => ({ user, base: bases[(i + j) % 2]!, margin: 1000 + i * 10 + j }),
        )
      );
      const answers = await Promise.all(
        requests.map((r) =>
          http<Order>(r.base, "POST", "/trade/create", {
            token: r.user.token,
            body: { asset: "ETH", type: "long", margin: r.margin, leverage: 2, slippage: 100 },
          })
        ),
      );
      answers.forEach((answer, i) => {
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.equal(answer.body.margin, requests[i]!.margin);
      });
      assert.equal(new Set(answers.map((a) => a.body.orderId)).size, requests.length);
      for (const [i, user] of users.entries()) {
        const open = await http<{ trades: Order[] }>(bases[(i + 1) % 2]!, "GET", "/trades/open", {
          token: user.token,
        });
        assert.deepEqual(
          open.body.trades.map((o) => o.margin).sort(),
          requests.filter((r) => r.user === user).map((r) => r.margin).sort(),
        );
      }
      // Each process's answers were written to its reply stream and nowhere else: the other
      // process and the gateway never read them.
      const ours = new Set(answers.map((a) => String(a.body.orderId)));
      const opened = () =>
        follower.opened.map((orders) => orders.filter((orderId) => ours.has(orderId)));
      await eventually("every answer seen", () => opened().flat().length >= requests.length);
      await follower.stop();
      assert.deepEqual(
        opened().map((orders) => orders.length),
        bases.map((b) => requests.filter((r) => r.base === b).length),
      );
      assert.equal(new Set(opened().flat()).size, requests.length);
      const kinds = new Set(
        (await env.redis.xrange(OUTPUT_STREAM, "-", "+")).map(([, f]) => outputHeader(f).kind),
      );
      assert.deepEqual(kinds, new Set(["event"]), "the output stream holds events only");
    });
  }
}
