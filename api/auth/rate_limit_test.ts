/** TokenBuckets with a hand-driven clock: burst, refill, wait times, independence, eviction. */
import assert from "node:assert/strict";
import { retryAfterSeconds, TokenBuckets } from "./rate_limit.ts";

/** How many of `n` back-to-back calls at `nowMs` are allowed. */
function allowed(buckets: TokenBuckets, key: string, n: number, nowMs: number): number {
  let count = 0;
  for (let i = 0; i < n; i++) if (buckets.take(key, nowMs) === 0) count++;
  return count;
}

Deno.test("a full bucket allows `burst` calls at once, then one per 1/perSecond", () => {
  const buckets = new TokenBuckets({ perSecond: 20, burst: 40, maxKeys: 10 });
  assert.equal(allowed(buckets, "u", 100, 1_000), 40);
  // The next token is 50 ms away.
  assert.equal(buckets.take("u", 1_000), 50);
  assert.equal(buckets.take("u", 1_049), 1);
  assert.equal(buckets.take("u", 1_050), 0);
  assert.equal(buckets.take("u", 1_050), 50);
  // A second later: 20 more, not 40.
  assert.equal(allowed(buckets, "u", 100, 2_050), 20);
});

Deno.test("a quiet spell refills up to `burst`, never beyond", () => {
  const buckets = new TokenBuckets({ perSecond: 2, burst: 5, maxKeys: 10 });
  assert.equal(allowed(buckets, "u", 5, 0), 5);
  assert.equal(allowed(buckets, "u", 10, 1_000), 2);
  assert.equal(allowed(buckets, "u", 10, 1_000_000), 5);
});

Deno.test("refused calls take nothing: a client that keeps knocking is let in at the rate", () => {
  const buckets = new TokenBuckets({ perSecond: 10, burst: 1, maxKeys: 10 });
  let granted = 0;
  // One call a millisecond for 10 s.
  for (let t = 0; t < 10_000; t++) if (buckets.take("u", t) === 0) granted++;
  assert.equal(granted, 100);
});

Deno.test("per-minute rates: 10 a minute is a burst of 10, then one every 6 s", () => {
  const buckets = new TokenBuckets({ perSecond: 10 / 60, burst: 10, maxKeys: 10 });
  assert.equal(allowed(buckets, "ip", 10, 0), 10);
  const waitMs = buckets.take("ip", 0);
  assert.equal(Math.round(waitMs), 6_000);
  assert.equal(retryAfterSeconds(waitMs), 6);
  assert.equal(buckets.take("ip", 6_000), 0);
});

Deno.test("keys are independent", () => {
  const buckets = new TokenBuckets({ perSecond: 1, burst: 2, maxKeys: 10 });
  assert.equal(allowed(buckets, "a", 5, 0), 2);
  assert.equal(allowed(buckets, "b", 5, 0), 2);
  assert.ok(buckets.take("a", 0) > 0);
});

Deno.test("a clock that steps back costs at most one token's wait, and refills nothing", () => {
  const buckets = new TokenBuckets({ perSecond: 1, burst: 2, maxKeys: 10 });
  assert.equal(allowed(buckets, "u", 2, 10_000), 2);
  assert.equal(buckets.take("u", 5_000), 1_000, "empty, and one token away");
  assert.equal(buckets.take("u", 6_000), 0);
  assert.ok(buckets.take("u", 6_000) > 0);
  const fresh = new TokenBuckets({ perSecond: 1, burst: 2, maxKeys: 10 });
  assert.equal(fresh.take("u", 10_000), 0);
  assert.ok(fresh.take("u", 0) <= 1_000);
});

Deno.test("memory is bounded: at the cap the least recently used key goes, one at a time", () => {
  const buckets = new TokenBuckets({ perSecond: 1, burst: 1, maxKeys: 3 });
  for (const key of ["a", "b", "c"]) assert.equal(buckets.take(key, 0), 0);
  // "a" is used again (refused: still use), so "b" is now the least recently used.
  assert.ok(buckets.take("a", 0) > 0);
  assert.equal(buckets.take("d", 0), 0);
  assert.equal(buckets.size, 3);
  // "a" and "c" are still remembered as empty: never a wholesale clear.
  assert.ok(buckets.take("a", 0) > 0, "a was forgotten");
  assert.ok(buckets.take("c", 0) > 0, "c was forgotten");
  // "b" was forgotten: a new, full bucket.
  assert.equal(buckets.take("b", 0), 0);
  assert.equal(buckets.size, 3);
  for (let i = 0; i < 10_000; i++) buckets.take(`k${i}`, 0);
  assert.equal(buckets.size, 3);
});

Deno.test("a key in use stays remembered (empty) however many other keys pass through", () => {
  const buckets = new TokenBuckets({ perSecond: 1, burst: 1, maxKeys: 100 });
  assert.equal(buckets.take("busy", 0), 0);
  for (let i = 0; i < 10_000; i++) {
    buckets.take(`spray-${i}`, 0);
    // "busy" keeps its bucket recent, so it stays empty, not reset.
    if (i % 50 === 0) assert.ok(buckets.take("busy", 0) > 0, `at ${i}`);
  }
});

Deno.test("Retry-After is whole seconds, at least 1", () => {
  assert.equal(retryAfterSeconds(1), 1);
  assert.equal(retryAfterSeconds(1_000), 1);
  assert.equal(retryAfterSeconds(1_001), 2);
  assert.equal(retryAfterSeconds(0.5), 1);
});

Deno.test("nonsense options are refused at construction", () => {
  assert.throws(() => new TokenBuckets({ perSecond: 0, burst: 1, maxKeys: 1 }), RangeError);
  assert.throws(() => new TokenBuckets({ perSecond: 1, burst: 0, maxKeys: 1 }), RangeError);
  assert.throws(() => new TokenBuckets({ perSecond: 1, burst: 1, maxKeys: 0 }), RangeError);
  assert.throws(() => new TokenBuckets({ perSecond: NaN, burst: 1, maxKeys: 1 }), RangeError);
});
