import assert from "node:assert/strict";
import { addressKey, ConnectionCounter, Hub, SendBudget } from "./hub.ts";

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

Deno.test("the account channel needs a token and reaches only its user's sockets", () => {
  const hub = new Hub();
  hub.add(1, "alice");
  hub.add(2, "bob");
  hub.add(3, undefined);
  assert.deepEqual(hub.handle(1, '{"type":"subscribe","channels":["account"]}'), {
    type: "subscribed",
    channels: ["account"],
  });
  hub.handle(2, '{"type":"subscribe","channels":["orders"]}');
  const anonymous = hub.handle(3, '{"type":"subscribe","channels":["prices","account"]}');
  assert.equal(anonymous.type === "error" && anonymous.code, "unauthorized");
  assert.match(anonymous.type === "error" ? anonymous.message : "", /account channel/);
  assert.deepEqual([...hub.priceTargets("BTC")], [], "a refused subscribe joins nothing");
  assert.deepEqual([...hub.accountTargets("alice")], [1]);
  assert.deepEqual([...hub.orderTargets("alice")], [], "account is not orders");
  assert.deepEqual([...hub.accountTargets("bob")], []);
  assert.equal(hub.wantsUser("alice"), true);
  assert.equal(hub.wantsUser("bob"), true);
  assert.equal(hub.wantsUser("carol"), false);
  hub.handle(1, '{"type":"unsubscribe","channels":["account"]}');
  assert.deepEqual([...hub.accountTargets("alice")], []);
  assert.equal(hub.wantsUser("alice"), false);
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

Deno.test("an auth message asks for verification; authenticate opens orders to that user only", () => {
  const hub = new Hub();
  hub.add(1);
  assert.deepEqual(hub.handle(1, '{"type":"auth","token":"a.b.c"}'), {
    type: "auth",
    token: "a.b.c",
  });
  for (
    const bad of ['{"type":"auth"}', '{"type":"auth","token":""}', '{"type":"auth","token":7}']
  ) {
    assert.equal(hub.handle(1, bad).type, "error", bad);
  }
  assert.equal(hub.expiresAtSec(1), undefined);
  assert.deepEqual(hub.authenticate(1, "alice", 2_000_000_000), {
    type: "authenticated",
    userId: "alice",
    expiresAt: 2_000_000_000_000,
  });
  assert.equal(hub.expiresAtSec(1), 2_000_000_000);
  hub.handle(1, '{"type":"subscribe","channels":["orders"]}');
  assert.deepEqual([...hub.orderTargets("alice")], [1]);
  // A fresh token of the same user moves the expiry; another user's is refused.
  assert.equal(hub.authenticate(1, "alice", 2_000_000_600).type, "authenticated");
  assert.equal(hub.expiresAtSec(1), 2_000_000_600);
  const other = hub.authenticate(1, "bob", 2_000_000_000);
  assert.equal(other.type === "error" && other.code, "already_authenticated");
  assert.deepEqual([...hub.orderTargets("bob")], []);
  assert.equal(hub.authenticate(99, "alice", 1).type, "error");
  // Connected with ?token=: authenticated from the start, with its expiry.
  hub.add(2, "carol", 2_000_000_100);
  assert.equal(hub.expiresAtSec(2), 2_000_000_100);
  assert.equal(hub.handle(2, '{"type":"subscribe","channels":["orders"]}').type, "subscribed");
});

Deno.test("ConnectionCounter: per-address and total caps, and no entry left at zero", () => {
  const counter = new ConnectionCounter(2, 3);
  assert.equal(counter.tryOpen("a"), "ok");
  assert.equal(counter.tryOpen("a"), "ok");
  assert.equal(counter.tryOpen("a"), "per_ip");
  assert.equal(counter.tryOpen("b"), "ok");
  assert.equal(counter.tryOpen("c"), "total");
  assert.equal(counter.total, 3);
  assert.equal(counter.countOf("a"), 2);
  counter.release("a");
  counter.release("a");
  counter.release("a"); // one too many: ignored, never negative
  counter.release("nobody");
  assert.equal(counter.countOf("a"), 0);
  assert.equal(counter.total, 1);
  assert.equal(counter.addresses, 1);
  assert.equal(counter.tryOpen("c"), "ok");
  counter.release("b");
  counter.release("c");
  assert.equal(counter.addresses, 0);
  assert.equal(counter.total, 0);
});

Deno.test("addressKey: IPv4 as is, IPv4-mapped unwrapped, IPv6 by its /64", () => {
  assert.equal(addressKey("203.0.113.7"), "203.0.113.7");
  assert.equal(addressKey("::ffff:203.0.113.7"), "203.0.113.7");
  assert.equal(addressKey("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
  assert.equal(addressKey("2001:0db8:0001:0002:ffff::1"), "2001:db8:1:2::/64");
  assert.equal(addressKey("2001:db8::1"), "2001:db8:0:0::/64");
  assert.equal(addressKey("2001:db8:1:2::1%eth0"), "2001:db8:1:2::/64");
  assert.equal(addressKey("::1"), "0:0:0:0::/64");
  assert.equal(addressKey("64:ff9b::192.0.2.1"), "64:ff9b:0:0::/64");
  assert.equal(addressKey(undefined), "unknown");
  assert.equal(addressKey("1:2:3::4::5"), "1:2:3::4::5"); // not an address: kept whole
});

Deno.test("SendBudget: a socket over its own limit is slow; past the total, the largest goes", () => {
  const budget = new SendBudget<{ name: string; waitingBytes: number }>(100, 250);
  const [a, b, c] = ["a", "b", "c"].map((name) => ({ name, waitingBytes: 0 }));
  assert.equal(budget.admit(a!, 0, 10), "ok");
  assert.equal(budget.admit(a!, 100, 10), "ok");
  assert.equal(budget.admit(a!, 101, 10), "slow");
  budget.record(a!, 90);
  budget.record(b!, 80);
  budget.record(c!, 70);
  assert.equal(budget.waitingBytes, 240);
  // Up to the budget exactly is fine; a byte more is not, whoever is being sent to.
  assert.equal(budget.admit(c!, 70, 10), "ok");
  assert.equal(budget.admit(c!, 70, 11), "over_budget");
  assert.equal(budget.admit(b!, 80, 11), "over_budget");
  assert.equal(budget.largest([a!, b!, c!]), a);
  // The largest closed: its bytes leave the total, and the send fits.
  budget.forget(a!);
  assert.equal(budget.waitingBytes, 150);
  assert.equal(budget.admit(c!, 70, 11), "ok");
  // A write flushed: what it recorded as waiting comes off again.
  budget.record(b!, 0);
  assert.equal(budget.waitingBytes, 70);
  // admit records what the socket reports now, in place of a stale figure.
  assert.equal(budget.admit(c!, 5, 1), "ok");
  assert.equal(budget.waitingBytes, 5);
  budget.forget(c!);
  assert.equal(budget.waitingBytes, 0);
  assert.equal(budget.largest([a!, b!, c!]), undefined);
  // Nothing waiting anywhere: a frame larger than the budget still goes (it cannot be helped).
  assert.equal(budget.admit(a!, 0, 1000), "ok");
});
