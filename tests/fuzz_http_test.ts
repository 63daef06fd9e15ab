/**
 * HTTP fuzz against the real API and engine: thousands of malformed requests across every
 * endpoint. None may get a 5xx, none may reach the engine (its input stream and state stay
 * exactly as they were), and every error keeps the API's one error shape.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { ENGINE_STATUS_KEY, INPUT_STREAM } from "@trading/shared";
import { eventually, newUser, withEnv } from "./harness.ts";

const REQUESTS = 5000;
const PATHS = [
  "/signup",
  "/signin",
  "/trade/create",
  "/trade/close",
  "/trades/open",
  "/trades",
  "/balance",
  "/balance/usd",
  "/supportedAssets",
  "/prices",
  "/health",
  "/openapi.json",
];

const nasty = fc.oneof(
  fc.constantFrom(
    null,
    true,
    -1,
    0,
    1.5,
    -0.0001,
    1e21,
    Number.MAX_SAFE_INTEGER + 2,
    "1e309",
    "NaN",
    "Infinity",
    "-1",
    "0x10",
    "",
    " ",
    "\u0000",
    "\u202e\u0007",
    "😀".repeat(100),
    "x".repeat(5000),
    "BTC\n",
    "97000.123456789",
    [],
    {},
    [[[[[]]]]],
  ),
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.double(),
);

/** A body that is never a valid instruction: at least one field is broken or unknown. */
const brokenTrade = fc.record({
  asset: fc.oneof(fc.constantFrom("BTC", "ETH", "SOL"), nasty),
  type: fc.oneof(fc.constantFrom("long", "short"), nasty),
  margin: fc.oneof(fc.constantFrom(10000), nasty),
  leverage: fc.oneof(fc.constantFrom(10), nasty),
  slippage: fc.oneof(fc.constantFrom(100), nasty),
  price: fc.option(nasty, { nil: undefined }),
  stopLoss: fc.option(nasty, { nil: undefined }),
  orderId: fc.option(nasty, { nil: undefined }),
  userId: fc.option(fc.string(), { nil: undefined }),
  balance: fc.option(fc.integer(), { nil: undefined }),
  openPrice: fc.option(fc.string(), { nil: undefined }),
  extra: nasty,
}, { requiredKeys: ["extra"] });

const deep = (depth: number): unknown => depth === 0 ? 1 : { a: [deep(depth - 1)] };

const body = fc.oneof(
  brokenTrade.map((b) => JSON.stringify(b)),
  nasty.map((v) => JSON.stringify(v) ?? "null"),
  fc.constantFrom(
    "{not json",
    "",
    "{}",
    '{"email":"a@b.co","password":"password123","extra":1}',
    '{"email":"\u0000@b.co","password":"x"}',
    JSON.stringify(deep(2000)),
    JSON.stringify({ pad: "x".repeat(70 * 1024) }),
    '{"orderId": 1e309}',
    '{"margin": 1e309}',
    "[".repeat(10000),
  ),
  fc.string({ maxLength: 200 }),
);

const POSTS = ["/signup", "/signin", "/trade/create", "/trade/close"];
const request = fc.record({
  rightMethod: fc.nat(9),
  otherMethod: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"),
  path: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...PATHS) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "/",
        "/../etc/passwd",
        "/trade/create/",
        "/%00",
        "/trades?limit=-1",
        "/trades?limit=abc&cursor=%ff",
        "/trades?cursor=" + "A".repeat(500),
      ),
    },
  ),
  contentType: fc.constantFrom(
    "application/json",
    "application/json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "",
  ),
  auth: fc.constantFrom("valid", "valid", "valid", "valid", "none", "garbage", "alg-none"),
  idempotencyKey: fc.option(
    fc.oneof(fc.constantFrom("ok-key", "x".repeat(100), "has space", "\u00e9"), fc.string()),
    { nil: undefined },
  ),
  body,
});

Deno.test(`HTTP fuzz: ${REQUESTS} malformed requests, no 5xx, nothing reaches the engine`, async () => {
  await withEnv({}, async (env) => {
    await env.startEngine();
    await env.startApi();
    const user = await newUser(env.api);
    await eventually(
      "the signup applied",
      async () => (await env.redis.hget(ENGINE_STATUS_KEY, "lastId")) !== "0-0",
    );
    const lengthBefore = await env.redis.xlen(INPUT_STREAM);
    const statusBefore = await env.redis.hget(ENGINE_STATUS_KEY, "lastId");
    const samples = fc.sample(request, { seed: 20261126, numRuns: REQUESTS });
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next < samples.length) {
        const sample = samples[next++]!;
        const expected = POSTS.includes(sample.path) ? "POST" : "GET";
        const r = { ...sample, method: sample.rightMethod < 8 ? expected : sample.otherMethod };
        const headers: Record<string, string> = {};
        if (r.contentType) headers["content-type"] = r.contentType;
        if (r.auth === "valid") headers.authorization = `Bearer ${user.token}`;
        if (r.auth === "garbage") headers.authorization = "Bearer a.b.c";
        if (r.auth === "alg-none") {
          headers.authorization = `Bearer eyJhbGciOiJub25lIn0.${user.token.split(".")[1]}.`;
        }
        if (r.idempotencyKey !== undefined) {
          // Headers must be ByteStrings; anything else is refused by fetch itself, not by us.
          const byteString = [...r.idempotencyKey].every((c) => c.charCodeAt(0) <= 0xff);
          if (byteString && !["\r", "\n", "\u0000"].some((c) => r.idempotencyKey!.includes(c))) {
            headers["idempotency-key"] = r.idempotencyKey;
          }
        }
        // A valid token on a read endpoint or a well-formed trade would be legitimate traffic;
        // the fuzz keeps only what must be refused before the engine.
        const reads = ["/trades/open", "/balance", "/balance/usd", "/trades"];
        if (r.auth === "valid" && r.method === "GET" && reads.includes(r.path)) {
          headers.authorization = "Bearer x";
        }
        if (r.path === "/signup" || r.path === "/signin") headers.authorization = "";
        const hasBody = r.method !== "GET" && r.method !== "OPTIONS";
        const response = await fetch(env.api + r.path, {
          method: r.method,
          headers,
          body: hasBody ? r.body : undefined,
        });
        const text = await response.text();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        assert.ok(
          response.status < 500,
          `${r.method} ${r.path} → ${response.status}: ${text.slice(0, 300)}`,
        );
        if (response.status >= 400) {
          const error = JSON.parse(text).error;
          assert.equal(
            typeof error?.code,
            "string",
            `${r.method} ${r.path}: ${text.slice(0, 200)}`,
          );
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    assert.equal(total, REQUESTS);
    assert.equal(
      await env.redis.xlen(INPUT_STREAM),
      lengthBefore,
      "a fuzz request reached the engine",
    );
    assert.equal(await env.redis.hget(ENGINE_STATUS_KEY, "lastId"), statusBefore);
    const health = await fetch(`${env.api}/health`).then((r) => r.json());
    assert.equal(health.status, "ok");
    console.log(
      `HTTP fuzz: ${total} requests, statuses ${
        JSON.stringify(Object.fromEntries([...statuses].sort()))
      }`,
    );
  });
});
