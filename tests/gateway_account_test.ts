/**
 * The `account` channel and margin calls through every process (simulator, poller, engine, API,
 * gateway) with a commission on (FEE_BPS=10): the channel needs a token; an open, a margin call,
 * a close and a reset each push the account's figures to its owner; the margin call reaches the
 * `orders` channel once, at the warning price `/trades/open` shows.
 */
import assert from "node:assert/strict";
import { eventually, http, newUser, withEnv, WsClient } from "./harness.ts";

type Json = Record<string, unknown>;

async function pricesShow(base: string, asset: string, bid: string, ask: string) {
  await eventually(`${asset} at ${bid}/${ask}`, async () => {
    const { body } = await http<{ prices: Json[] }>(base, "GET", "/prices");
    return body.prices.some((p) => p.asset === asset && p.bid === bid && p.ask === ask);
  });
}

Deno.test("account figures and margin calls reach their owner over the gateway", async () => {
  await withEnv({ FEE_BPS: "10" }, async (env) => {
    await env.startAll();
    const base = env.api;
    const gateway = `ws://127.0.0.1:${env.ports.gateway}/ws`;
    const alice = await newUser(base);
    const bob = await newUser(base);

    const anonymous = await WsClient.connect(gateway);
    anonymous.send({ type: "subscribe", channels: ["account"] });
    const refused = await eventually(
      "refusal",
      () => anonymous.messages.find((m) => m.type === "error"),
    );
    assert.equal(refused.code, "unauthorized");

    const aliceWs = await WsClient.connect(`${gateway}?token=${alice.token}`);
    const bobWs = await WsClient.connect(`${gateway}?token=${bob.token}`);
    aliceWs.send({ type: "subscribe", channels: ["account", "orders"] });
    bobWs.send({ type: "subscribe", channels: ["account"] });
    await eventually(
      "subscriptions",
      () =>
        aliceWs.messages.some((m) => m.type === "subscribed") &&
        bobWs.messages.some((m) => m.type === "subscribed"),
    );
    const accounts = (ws: WsClient) => ws.messages.filter((m) => m.type === "account");

    await env.setPrice("SOL_USDC_PERP", "150.00", "150.02");
    await pricesShow(base, "SOL", "150", "150.02");
    const opened = await http<Json>(base, "POST", "/trade/create", {
      token: alice.token,
      body: { asset: "SOL", type: "long", margin: 10000, leverage: 10, slippage: 100 },
    });
    assert.equal(opened.status, 200, JSON.stringify(opened.body));
    // 6.66577789 SOL at 150.02 is 99999.99… cents of notional: ceil(10 bps of it) = 100.
    assert.equal(opened.body.fee, 100);
    const afterOpen = await eventually("figures after the open", () => accounts(aliceWs)[0]);
    assert.deepEqual(afterOpen, {
      type: "account",
      balance: 500000 - 10000 - 100,
      locked: 10000,
      pending: 0,
      equity: afterOpen.equity,
    });
    // Equity is the balance and margin with the unrealized PnL at the bid (a spread's loss).
    assert.ok((afterOpen.equity as number) < 500000 - 100 && (afterOpen.equity as number) > 499000);

    const open = await http<{ trades: Json[] }>(base, "GET", "/trades/open", {
      token: alice.token,
    });
    const warningPrice = open.body.trades[0]!.warningPrice as string;
    assert.ok(Number(warningPrice) < 150 && Number(warningPrice) > 136, warningPrice);

    await env.setPrice("SOL_USDC_PERP", "136.00", "136.02");
    const call = await eventually(
      "margin call",
      () => aliceWs.orders().find((m) => m.event === "margin_call"),
    );
    assert.deepEqual(call, {
      type: "order",
      event: "margin_call",
      orderId: opened.body.orderId,
      asset: "SOL",
      side: "long",
      liquidationPrice: opened.body.liquidationPrice,
      warningPrice,
    });
    await eventually("figures after the call", () => accounts(aliceWs).length >= 2);
    const balance = await http<{ usd: Json }>(base, "GET", "/balance", { token: alice.token });
    assert.match(balance.body.usd.marginLevel as string, /^\d+\.\d\d$/);

    await env.setPrice("SOL_USDC_PERP", "136.10", "136.12");
    await pricesShow(base, "SOL", "136.1", "136.12");

    const reset409 = await http<Json>(base, "POST", "/balance/reset", { token: alice.token });
    assert.equal(reset409.status, 409, JSON.stringify(reset409.body));
    const closed = await http<Json>(base, "POST", "/trade/close", {
      token: alice.token,
      body: { orderId: opened.body.orderId },
    });
    assert.equal(closed.status, 200, JSON.stringify(closed.body));
    assert.ok((closed.body.fee as number) > 0, "the close paid its commission");
    const afterClose = await eventually(
      "figures after the close",
      () => accounts(aliceWs).find((m) => m.locked === 0),
    );
    assert.equal(afterClose.balance, closed.body.balance);
    // Events reach the socket in stream order: a call the second quote (beyond the warning
    // price) fired would have come before the close's figures.
    assert.equal(
      aliceWs.orders().filter((m) => m.event === "margin_call").length,
      1,
      "no second call while beyond the warning price",
    );

    const reset = await http<Json>(base, "POST", "/balance/reset", { token: alice.token });
    assert.equal(reset.status, 200, JSON.stringify(reset.body));
    assert.deepEqual(reset.body, { balance: 500000 });
    await eventually(
      "figures after the reset",
      () => accounts(aliceWs).at(-1)?.balance === 500000 ? true : undefined,
    );
    // Bob's own change reaches him, and only his figures ever do.
    const bobOpen = await http<Json>(base, "POST", "/trade/create", {
      token: bob.token,
      body: { asset: "SOL", type: "long", margin: 5000, leverage: 2, slippage: 100 },
    });
    assert.equal(bobOpen.status, 200, JSON.stringify(bobOpen.body));
    const bobFigures = await eventually("bob's figures", () => accounts(bobWs)[0]);
    assert.equal(bobFigures.locked, 5000);
    assert.deepEqual(
      accounts(bobWs).map((m) => m.locked),
      [5000],
      "another user's money is never pushed",
    );
    for (const ws of [anonymous, aliceWs, bobWs]) ws.close();
  });
});
