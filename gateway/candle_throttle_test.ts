import assert from "node:assert/strict";
import { CandleThrottle } from "./candle_throttle.ts";

const frame = (text: string) => new TextEncoder().encode(text);
const text = (bytes: Uint8Array | undefined) =>
  bytes === undefined ? undefined : new TextDecoder().decode(bytes);

Deno.test("candle throttle: one message per channel per 250 ms, the latest of each candle wins", () => {
  const throttle = new CandleThrottle(250);
  assert.equal(
    text(throttle.offer("c.BTC.1m", 0, frame("a1"), 1000)),
    "a1",
    "the first goes at once",
  );
  assert.equal(throttle.offer("c.BTC.1m", 0, frame("a2"), 1010), undefined);
  assert.equal(throttle.offer("c.BTC.1m", 0, frame("a3"), 1020), undefined);
  assert.equal(
    text(throttle.offer("c.ETH.1m", 0, frame("e1"), 1020)),
    "e1",
    "channels are independent",
  );
  assert.equal(throttle.nextDueMs(), 1250);
  assert.deepEqual(throttle.takeDue(1249), [], "not before the gap");
  assert.deepEqual(throttle.takeDue(1250).map(([c, f]) => [c, text(f)]), [["c.BTC.1m", "a3"]]);
  assert.equal(throttle.nextDueMs(), undefined, "nothing waits");

  // A minute's last update and the next minute's first: both go, 250 ms apart; a third candle
  // replaces the second.
  assert.equal(throttle.offer("c.BTC.1m", 0, frame("a4"), 1300), undefined);
  assert.equal(throttle.offer("c.BTC.1m", 60_000, frame("b1"), 1310), undefined);
  assert.equal(throttle.offer("c.BTC.1m", 0, frame("a5"), 1320), undefined);
  assert.equal(throttle.offer("c.BTC.1m", 120_000, frame("c1"), 1330), undefined);
  assert.deepEqual(throttle.takeDue(1500).map(([, f]) => text(f)), ["a5"]);
  assert.deepEqual(throttle.takeDue(1700).map(([, f]) => text(f)), [], "250 ms after the last");
  assert.deepEqual(throttle.takeDue(1750).map(([, f]) => text(f)), ["c1"]);
  assert.deepEqual(throttle.takeDue(5000), []);
});

Deno.test("candle throttle: at most 4 a second per channel however many are offered", () => {
  const throttle = new CandleThrottle(250);
  let sent = 0;
  for (let ms = 0; ms < 10_000; ms += 7) {
    if (throttle.offer("ch", 0, frame(String(ms)), ms) !== undefined) sent++;
    sent += throttle.takeDue(ms).length;
  }
  assert.ok(sent <= 40 && sent >= 39, `${sent} sent in 10 s`);
});

Deno.test("candle throttle: an older candle arriving on a full queue never displaces the newest", () => {
  const throttle = new CandleThrottle(250);
  assert.equal(text(throttle.offer("c", 60_000, frame("m1"), 1000)), "m1");
  assert.equal(throttle.offer("c", 60_000, frame("m1b"), 1010), undefined);
  assert.equal(throttle.offer("c", 120_000, frame("m2"), 1020), undefined);
  // A late update of an older minute (a batch read again after a crash republishes it).
  assert.equal(throttle.offer("c", 0, frame("m0"), 1030), undefined);
  assert.deepEqual(throttle.takeDue(1250).map(([, f]) => text(f)), ["m1b"]);
  assert.deepEqual(throttle.takeDue(1500).map(([, f]) => text(f)), ["m2"], "the newest kept");
  assert.equal(throttle.nextDueMs(), undefined);
});
