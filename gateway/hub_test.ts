import assert from "node:assert/strict";
import { Hub } from "./hub.ts";

Deno.test("price subscribers get each asset once, whether by prices or prices.<asset>", () => {
  const hub = new Hub();
  hub.add(1, undefined);
  hub.add(2, undefined);
  assert.deepEqual(hub.handle(1, '{"type":"subscribe","channels":["prices","prices.BTC"]}'), {
    type: "subscribed",
    channels: ["prices", "prices.BTC"],
  });
  hub.handle(2, '{"type":"subscribe","channels":["prices.ETH"]}');
  assert.deepEqual([...hub.priceTargets("BTC")], [1]);
  assert.deepEqual([...hub.priceTargets("ETH")].sort(), [1, 2]);
  hub.handle(1, '{"type":"unsubscribe","channels":["prices","prices.BTC"]}');
  assert.deepEqual([...hub.priceTargets("BTC")], []);
});

Deno.test("orders reach only the owner's authenticated sockets", () => {
  const hub = new Hub();
  hub.add(1, "alice");
  hub.add(2, "bob");
  hub.add(3, undefined);
  hub.handle(1, '{"type":"subscribe","channels":["orders"]}');
  hub.handle(2, '{"type":"subscribe","channels":["orders"]}');
  const anonymous = hub.handle(3, '{"type":"subscribe","channels":["orders"]}');
  assert.equal(anonymous.type === "error" && anonymous.code, "unauthorized");
  assert.deepEqual([...hub.orderTargets("alice")], [1]);
  assert.deepEqual([...hub.orderTargets("bob")], [2]);
  hub.remove(1);
  assert.deepEqual([...hub.orderTargets("alice")], []);
  assert.equal(hub.size, 2);
});

Deno.test("bad messages get an error reply and change nothing", () => {
  const hub = new Hub();
  hub.add(1, undefined);
  const bad = [
    "not json",
    "[]",
    "null",
    "42",
    '{"type":"dance"}',
    '{"type":"subscribe"}',
    '{"type":"subscribe","channels":[]}',
    '{"type":"subscribe","channels":["prices.DOGE"]}',
    '{"type":"subscribe","channels":[{"a":1}]}',
    '{"type":"subscribe","channels":"prices"}',
    JSON.stringify({ type: "subscribe", channels: Array(100).fill("prices") }),
    "x".repeat(5000),
  ];
  for (const text of bad) assert.equal(hub.handle(1, text).type, "error", text);
  assert.deepEqual(hub.handle(1, '{"type":"ping"}'), { type: "pong" });
  assert.deepEqual([...hub.priceTargets("BTC")], []);
});
