/**
 * Every order event the engine writes to `{e0}:output` reaches its owner's `orders`
 * subscribers, through the real gateway process, as `{"type":"order","event",...,"side"}` with
 * cents as JSON numbers; another user's events do not; an event the gateway does not know, or a
 * malformed one, is skipped and the fan-out goes on. Only Redis is needed: the events are
 * written here, as the engine would write them.
 */
import assert from "node:assert/strict";
import { signToken } from "@trading/shared/jwt";
import { OUTPUT_STREAM } from "@trading/shared/redis";
import { encodeOutput, type EngineOutput } from "@trading/shared/schemas";
import { ORDER_EVENT_CASES, parseMessage } from "../gateway/order_events_fixture.ts";
import { type Env, eventually, JWT_SECRET, withEnv } from "./harness.ts";

async function writeOutput(env: Env, output: EngineOutput): Promise<void> {
  await env.redis.xadd(OUTPUT_STREAM, "*", ...encodeOutput(output));
}

/** A socket keeping each message's text: cents past 2^53 are compared exactly. */
async function subscribe(env: Env, userId: string): Promise<{ texts: string[]; ws: WebSocket }> {
  const token = await signToken(userId, JWT_SECRET, Date.now());
  const ws = new WebSocket(`ws://127.0.0.1:${env.ports.gateway}/ws`);
  const texts: string[] = [];
  ws.onmessage = (event) => texts.push(String(event.data));
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  ws.send(JSON.stringify({ type: "auth", token }));
  ws.send(JSON.stringify({ type: "subscribe", channels: ["orders"] }));
  await eventually("subscribed", () => texts.some((t) => t.includes('"subscribed"')), 5000);
  return { texts, ws };
}

Deno.test("the gateway pushes every order event kind to its owner, and skips what it does not know", async () => {
  await withEnv({}, async (env) => {
    await env.startGateway();
    const alice = await subscribe(env, "alice");
    const bob = await subscribe(env, "bob");
    let cause = 0;
    const event = (userId: string, result: unknown): EngineOutput =>
      ({ kind: "event", cause: `1-${cause++}`, userId, result }) as EngineOutput;

    for (const [result] of ORDER_EVENT_CASES) {
      // Bob's copy of each event first: it must never reach Alice.
      await writeOutput(env, event("bob", { ...result, orderId: "bob-order" }));
      // Not known to this gateway (a later engine's event), then a body that is not JSON:
      // both skipped, and the next event still arrives.
      await writeOutput(env, event("alice", { event: "price_alert", orderId: "7", type: "long" }));
      await env.redis.xadd(
        OUTPUT_STREAM,
        "*",
        ...["kind", "event", "cause", "1-x", "userId", "alice", "event", "opened", "body", "{"],
      );
      await writeOutput(env, event("alice", result));
    }

    const orders = () => alice.texts.map(parseMessage).filter((m) => m.type === "order");
    await eventually(
      "every event",
      () => orders().length >= ORDER_EVENT_CASES.length,
      10_000,
    );
    assert.deepEqual(orders(), ORDER_EVENT_CASES.map(([, message]) => message));
    // Exact cents in the text, never through a float.
    assert.ok(alice.texts.some((t) => t.includes('"pnl":-1234567890123456789,')));
    await eventually(
      "bob's events",
      () =>
        bob.texts.filter((t) => t.includes('"type":"order"')).length >= ORDER_EVENT_CASES.length,
      10_000,
    );
    const bobs = bob.texts.map(parseMessage).filter((m) => m.type === "order");
    assert.deepEqual(bobs.map((m) => m.event), ORDER_EVENT_CASES.map(([r]) => r.event));
    // (a modify's orderId is its view's: only the top-level one was changed for Bob.)
    assert.ok(bobs.filter((m) => m.event !== "modified").every((m) => m.orderId === "bob-order"));
    // The gateway is still up and answering.
    alice.ws.send(JSON.stringify({ type: "ping" }));
    await eventually("pong", () => alice.texts.some((t) => t.includes('"pong"')), 5000);
    for (const { ws } of [alice, bob]) ws.close();
  });
});
