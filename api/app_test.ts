/**
 * The HTTP layer through `app.request()`: real Postgres for users and history, the real engine
 * core in process for answers.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { migrate, withDatabase } from "@trading/shared/db";
import { createLogger } from "@trading/shared/log";
import { buildApp } from "./app.ts";
import { argon2id } from "./auth/passwords.ts";
import { postgresHistory } from "./stores/history.ts";
import { postgresUsers } from "./stores/users.ts";
import { InProcessEngine } from "./testing/in_process_engine.ts";

const ADMIN = Deno.env.get("TEST_ADMIN_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/postgres";
const SECRET = "app-test-secret-app-test-secret-0123456";

async function setup() {
  const name = `a_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres(ADMIN, { onnotice: () => {}, max: 1 });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const sql = postgres(withDatabase(ADMIN, name), {
    onnotice: () => {},
    max: 2,
  });
  await migrate(sql);
  await migrate(sql); // idempotent
  const engine = new InProcessEngine();
  const app = buildApp({
    engine,
    users: postgresUsers(sql),
    history: postgresHistory(sql),
    passwords: argon2id,
    jwtSecret: SECRET,
    log: createLogger("test", "error"),
    health: () => Promise.resolve({ redis: true, postgres: true, engine: true }),
    corsOrigins: ["https://app.example.com"],
  });
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    token?: string,
    headers = {},
  ) => {
    const response = await app.request(`/api/v1${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: response.status, text: await response.text(), headers: response.headers };
  };
  const close = async () => {
    await sql.end();
    await admin.unsafe(`DROP DATABASE ${name} WITH (FORCE)`);
    await admin.end();
  };
  return { app, engine, call, close };
}

Deno.test("HTTP layer: signup to close through app.request()", async (t) => {
  const { app, engine, call, close } = await setup();
  try {
    const email = "Trader@Example.com";
    const signup = await call("POST", "/signup", { email, password: "password123" });
    assert.equal(signup.status, 201);
    const signin = await call("POST", "/signin", {
      email: email.toLowerCase(),
      password: "password123",
    });
    const { token } = JSON.parse(signin.text);
    engine.setQuote("BTC", 9_699_950n, 9_700_050n);

    await t.step("cents are JSON numbers written from exact digits", async () => {
      const opened = await call(
        "POST",
        "/trade/create",
        {
          asset: "BTC",
          type: "long",
          margin: 10000,
          leverage: 10,
          slippage: 100,
        },
        token,
        { "idempotency-key": "k1" },
      );
      assert.equal(opened.status, 200);
      assert.match(opened.text, /"margin":10000,/);
      assert.equal(JSON.parse(opened.text).quantity, "0.01030922");
      const repeat = await call(
        "POST",
        "/trade/create",
        {
          asset: "BTC",
          type: "long",
          margin: 10000,
          leverage: 10,
          slippage: 100,
        },
        token,
        { "idempotency-key": "k1" },
      );
      assert.equal(repeat.status, 200);
      assert.equal(repeat.text, opened.text);
      const balance = await call("GET", "/balance", undefined, token);
      assert.equal(
        balance.text,
        '{"usd":{"balance":490000,"locked":10000,"equity":499998,"decimals":2}}',
      );
    });

    await t.step("a malformed Idempotency-Key is a 400 naming the header", async () => {
      const body = { asset: "BTC", type: "long", margin: 100, leverage: 1, slippage: 100 };
      for (const key of ["x".repeat(65), "has space", "é"]) {
        const refused = await call("POST", "/trade/create", body, token, {
          "idempotency-key": key,
        });
        assert.equal(refused.status, 400, key);
        const error = JSON.parse(refused.text).error;
        assert.equal(error.code, "invalid_request");
        assert.equal(error.issues[0].path, "idempotency-key");
      }
      const close = await call("POST", "/trade/close", { orderId: "1" }, token, {
        "idempotency-key": "bad key",
      });
      assert.equal(close.status, 400);
    });

    await t.step(
      "a refusal is not remembered; a key reused for another request is 422",
      async () => {
        const body = { asset: "BTC", type: "long", margin: 900000, leverage: 1, slippage: 100 };
        const headers = { "idempotency-key": "k2" };
        const first = await call("POST", "/trade/create", body, token, headers);
        assert.equal(first.status, 422);
        assert.equal(JSON.parse(first.text).error.code, "insufficient_balance");
        assert.equal(first.headers.get("idempotency-key"), "k2");
        const fits = await call("POST", "/trade/create", { ...body, margin: 100 }, token, headers);
        assert.equal(fits.status, 200, fits.text);
        const other = await call("POST", "/trade/create", { ...body, margin: 200 }, token, headers);
        assert.equal(other.status, 422);
        assert.equal(JSON.parse(other.text).error.code, "idempotency_key_reused");
        const asClose = await call("POST", "/trade/close", { orderId: "1" }, token, headers);
        assert.equal(asClose.status, 422);
        assert.equal(JSON.parse(asClose.text).error.code, "idempotency_key_reused");
        const again = await call("POST", "/trade/create", { ...body, margin: 100 }, token, headers);
        assert.equal(again.status, 200);
        assert.equal(JSON.parse(again.text).orderId, JSON.parse(fits.text).orderId);
      },
    );

    await t.step("a create or close without a key gets one from the API", async () => {
      const body = { asset: "BTC", type: "long", margin: 100, leverage: 1, slippage: 100 };
      const made = await call("POST", "/trade/create", body, token);
      assert.equal(made.status, 200);
      const key = made.headers.get("idempotency-key");
      assert.match(key ?? "", /^api-[0-9a-f-]{36}$/);
      const retried = await call("POST", "/trade/create", body, token, { "idempotency-key": key! });
      assert.equal(JSON.parse(retried.text).orderId, JSON.parse(made.text).orderId);
      const refused = await call("POST", "/trade/close", { orderId: "999" }, token);
      assert.equal(refused.status, 404);
      assert.match(refused.headers.get("idempotency-key") ?? "", /^api-/);
      // Answers that never reached the engine name the key too: a retry is always safe.
      const invalid = await call("POST", "/trade/create", { asset: "BTC" }, token);
      assert.equal(invalid.status, 400);
      assert.match(invalid.headers.get("idempotency-key") ?? "", /^api-/);
      const anonymous = await call("POST", "/trade/close", { orderId: "1" }, undefined, {
        "idempotency-key": "mine",
      });
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.headers.get("idempotency-key"), "mine");
    });

    await t.step("security headers and the error shape", async () => {
      const response = await call("GET", "/supportedAssets");
      assert.equal(response.headers.get("x-content-type-options"), "nosniff");
      assert.equal(JSON.parse(response.text).assets.length, 3);
      const bad = await call("POST", "/trade/create", { asset: "BTC" }, token);
      const error = JSON.parse(bad.text).error;
      assert.equal(error.code, "invalid_request");
      assert.ok(Array.isArray(error.issues) && error.issues.length > 0);
    });

    await t.step("bodies over 64 KiB are refused, declared or streamed", async () => {
      const order = { asset: "BTC", type: "long", margin: 100, leverage: 1, slippage: 100 };
      const big = JSON.stringify({ ...order, pad: "x".repeat(70 * 1024) });
      const declared = await call("POST", "/trade/create", big, token, {
        "content-length": String(big.length),
      });
      assert.equal(declared.status, 413);
      const stream = (text: string) =>
        new Blob([text]).stream() as ReadableStream<Uint8Array<ArrayBuffer>>;
      const post = (text: string) =>
        app.request("/api/v1/trade/create", {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: stream(text),
        });
      const streamed = await post(big);
      assert.equal(streamed.status, 413);
      assert.equal(JSON.parse(await streamed.text()).error.code, "payload_too_large");
      const small = await post(JSON.stringify(order));
      assert.equal(small.status, 200, await small.text());
    });
  } finally {
    await close();
  }
});

Deno.test("openapi.json documents every endpoint of the README's HTTP API", async () => {
  const { call, close } = await setup();
  try {
    const doc = JSON.parse((await call("GET", "/openapi.json")).text);
    assert.equal(doc.openapi, "3.1.0");
    const paths = Object.keys(doc.paths).sort();
    assert.deepEqual(paths, [
      "/balance",
      "/balance/usd",
      "/health",
      "/prices",
      "/signin",
      "/signup",
      "/supportedAssets",
      "/trade/close",
      "/trade/create",
      "/trades",
      "/trades/open",
    ]);
    assert.ok(doc.components.schemas.TradeCreate.properties.margin);
    assert.equal(doc.components.securitySchemes.bearer.scheme, "bearer");
    for (const path of ["/trade/create", "/trade/close"]) {
      const header = doc.paths[path].post.parameters
        .find((p: { in: string; name: string }) => p.in === "header");
      assert.equal(header?.name, "idempotency-key", path);
      assert.equal(header.required, false);
      assert.equal(header.schema.pattern, "^[\\x21-\\x7e]{1,64}$");
    }
  } finally {
    await close();
  }
});

Deno.test("/docs lists every operation, offline; X-Request-Id is echoed or made", async () => {
  const { call, close } = await setup();
  try {
    const docs = await call("GET", "/docs");
    assert.equal(docs.status, 200);
    assert.match(docs.headers.get("content-type") ?? "", /text\/html/);
    for (const path of ["/api/v1/trade/create", "/api/v1/trades/open", "/api/v1/signin"]) {
      assert.ok(docs.text.includes(path), path);
    }
    assert.ok(
      !/<script|https?:\/\/(?!127)/.test(docs.text.replace(/href="[^"]*"/g, "")),
      "no outside assets",
    );
    const echoed = await call("GET", "/prices", undefined, undefined, {
      "x-request-id": "abc-123",
    });
    assert.equal(echoed.headers.get("x-request-id"), "abc-123");
    const made = await call("GET", "/prices", undefined, undefined, {
      "x-request-id": "bad id\u00ff",
    });
    assert.match(made.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
  } finally {
    await close();
  }
});

Deno.test("CORS: allowed origins only, Vary on every answer, errors included", async () => {
  const { call, close } = await setup();
  try {
    const preflight = (origin: string) =>
      call("OPTIONS", "/trade/create", undefined, undefined, {
        origin,
        "access-control-request-method": "POST",
      });
    const allowed = await preflight("https://app.example.com");
    assert.equal(allowed.status, 204);
    assert.equal(allowed.headers.get("access-control-allow-origin"), "https://app.example.com");
    assert.equal(allowed.headers.get("access-control-allow-methods"), "GET,POST");
    assert.match(allowed.headers.get("access-control-allow-headers") ?? "", /idempotency-key/);
    const refused = await preflight("https://evil.example.com");
    assert.equal(refused.status, 204);
    assert.equal(refused.headers.get("access-control-allow-origin"), null);
    assert.equal(refused.headers.get("access-control-allow-methods"), null);

    const get = await call("GET", "/supportedAssets", undefined, undefined, {
      origin: "https://app.example.com",
    });
    assert.equal(get.headers.get("access-control-allow-origin"), "https://app.example.com");
    // A page must be able to read the key to retry with, and how long to wait.
    assert.equal(get.headers.get("access-control-expose-headers"), "idempotency-key,retry-after");
    assert.equal(get.headers.get("vary"), "Origin");
    assert.equal(get.headers.get("x-content-type-options"), "nosniff");
    const other = await call("GET", "/supportedAssets", undefined, undefined, {
      origin: "https://evil.example.com",
    });
    assert.equal(other.headers.get("access-control-allow-origin"), null);
    assert.equal(other.headers.get("vary"), "Origin");
    const error = await call("GET", "/balance", undefined, undefined, {
      origin: "https://app.example.com",
    });
    assert.equal(error.status, 401);
    assert.equal(error.headers.get("access-control-allow-origin"), "https://app.example.com");
  } finally {
    await close();
  }
});

// ---------------------------------------------------------------------------------------------
// Limits: per user, per client IP, per email. In process so that requests can come from several
// addresses (`remoteAddr` as Deno.serve passes it) and the clock can be driven by hand.
// tests/limits_http_test.ts checks the same limits against the real process.
// ---------------------------------------------------------------------------------------------
import type { ApiDeps } from "./deps.ts";
import type { EngineGateway } from "./engine_client.ts";

async function limitsSetup(overrides: Partial<ApiDeps>) {
  const name = `l_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres(ADMIN, { onnotice: () => {}, max: 1 });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const sql = postgres(withDatabase(ADMIN, name), { onnotice: () => {}, max: 2 });
  await migrate(sql);
  const engine = new InProcessEngine();
  engine.setQuote("BTC", 9_699_950n, 9_700_050n);
  const counts = { engineRequests: 0, hashes: 0 };
  const gateway: EngineGateway = {
    request: (fields) => {
      counts.engineRequests++;
      return engine.request(fields);
    },
    send: (fields) => engine.send(fields),
    latestQuote: (asset) => engine.latestQuote(asset),
    quotes: () => engine.quotes(),
  };
  // Wall time plus what a test adds: tokens are checked against the real clock.
  const clock = { ms: Date.now() };
  const app = buildApp({
    engine: gateway,
    users: postgresUsers(sql),
    history: postgresHistory(sql),
    passwords: {
      hash: (password) => {
        counts.hashes++;
        return argon2id.hash(password);
      },
      verify: argon2id.verify,
    },
    jwtSecret: SECRET,
    log: createLogger("test", "error"),
    health: () => Promise.resolve({ redis: true, postgres: true, engine: true }),
    nowMs: () => clock.ms,
    ...overrides,
  });
  const call = async (
    method: string,
    path: string,
    options: { body?: unknown; token?: string; ip?: string } = {},
  ) => {
    const response = await app.request(`/api/v1${path}`, {
      method,
      headers: {
        ...(options.body === undefined ? {} : { "content-type": "application/json" }),
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      },
      body: options.body === undefined
        ? undefined
        : typeof options.body === "string"
        ? options.body
        : JSON.stringify(options.body),
    }, { remoteAddr: { transport: "tcp", hostname: options.ip ?? "192.0.2.1", port: 50_000 } });
    const text = await response.text();
    return { status: response.status, text, headers: response.headers };
  };
  const close = async () => {
    await sql.end();
    await admin.unsafe(`DROP DATABASE ${name} WITH (FORCE)`);
    await admin.end();
  };
  return { call, clock, counts, close };
}

type LimitsCall = Awaited<ReturnType<typeof limitsSetup>>["call"];

function assertLimited(result: Awaited<ReturnType<LimitsCall>>, what: string): number {
  assert.equal(result.status, 429, `${what}: ${result.status} ${result.text}`);
  const error = JSON.parse(result.text).error;
  assert.equal(error.code, "rate_limited", what);
  assert.equal(typeof error.message, "string");
  const retryAfter = result.headers.get("retry-after") ?? "";
  assert.match(retryAfter, /^[1-9][0-9]*$/, `${what}: Retry-After ${retryAfter}`);
  return Number(retryAfter);
}

const OWNER = { email: "owner@example.com", password: "owner's password" };

Deno.test("limits: wrong passwords from one IP never lock the owner out from another", async () => {
  // Pair 2 a minute, IP 10, email 20: the default shape at a fifth of its size (fewer hashes).
  const { call, close } = await limitsSetup({ signinLimitPerMinute: 2 });
  try {
    assert.equal((await call("POST", "/signup", { body: OWNER, ip: "198.51.100.7" })).status, 201);
    const attacker = "203.0.113.9";
    const wrong = { email: OWNER.email, password: "guess guess" };
    for (let i = 0; i < 2; i++) {
      assert.equal((await call("POST", "/signin", { body: wrong, ip: attacker })).status, 401);
    }
    // The pair's bucket: 2 a minute, so the next token is 30 s away.
    const retry = assertLimited(
      await call("POST", "/signin", { body: wrong, ip: attacker }),
      "3rd",
    );
    assert.equal(retry, 30);
    // Hammering on, in other letter cases too, charges nothing to the email's own bucket.
    for (let i = 0; i < 100; i++) {
      const email = i % 2 ? OWNER.email.toUpperCase() : OWNER.email;
      const result = await call("POST", "/signin", { body: { ...wrong, email }, ip: attacker });
      assert.equal(result.status, 429, `attempt ${i}`);
    }
    const owner = await call("POST", "/signin", { body: OWNER, ip: "198.51.100.7" });
    assert.equal(owner.status, 200, owner.text);
    const travelling = await call("POST", "/signin", { body: OWNER, ip: "2001:db8:1::5" });
    assert.equal(travelling.status, 200, travelling.text);
  } finally {
    await close();
  }
});

Deno.test("limits: one IP across emails, and many IPs at one email, are capped", async () => {
  const { call, clock, close } = await limitsSetup({ signinLimitPerMinute: 2 });
  try {
    assert.equal((await call("POST", "/signup", { body: OWNER })).status, 201);
    // Per IP: 10 a minute across emails (5 × the pair's rate).
    const spray = "203.0.113.10";
    for (let i = 0; i < 10; i++) {
      const body = { email: `nobody-${i}@example.com`, password: "guess guess" };
      assert.equal((await call("POST", "/signin", { body, ip: spray })).status, 401, `#${i}`);
    }
    const body = { email: "nobody-10@example.com", password: "guess guess" };
    assert.equal(assertLimited(await call("POST", "/signin", { body, ip: spray }), "per IP"), 6);
    // Per email: 20 a minute (10 × the pair's rate), so only 10 IPs together reach it.
    const wrong = { email: OWNER.email, password: "guess guess" };
    for (let ip = 1; ip <= 10; ip++) {
      for (let i = 0; i < 2; i++) {
        const result = await call("POST", "/signin", { body: wrong, ip: `198.18.0.${ip}` });
        assert.equal(result.status, 401, `IP ${ip} attempt ${i}`);
      }
    }
    assertLimited(await call("POST", "/signin", { body: wrong, ip: "198.18.0.11" }), "per email");
    // A token back every 3 s: the limit is a rate, not a lock.
    clock.ms += 3_000;
    assert.equal((await call("POST", "/signin", { body: OWNER })).status, 200);
  } finally {
    await close();
  }
});

Deno.test("limits: signups per client IP (IPv6 by /64), counted before hashing or parsing", async () => {
  const { call, counts, close } = await limitsSetup({ signupsPerMinute: 2 });
  try {
    const signup = (ip: string) =>
      call("POST", "/signup", {
        body: { email: `u-${crypto.randomUUID()}@example.com`, password: "password123" },
        ip,
      });
    assert.equal((await signup("2001:db8::1")).status, 201);
    assert.equal((await signup("2001:db8:0:0:ffff::2")).status, 201);
    assert.equal(assertLimited(await signup("2001:db8::3"), "same /64"), 30);
    assert.equal(counts.hashes, 2, "a refused signup hashed a password");
    const malformed = await call("POST", "/signup", { body: "{", ip: "2001:db8::4" });
    assertLimited(malformed, "a malformed body from a limited address");
    assert.equal((await signup("2001:db8:0:1::1")).status, 201, "another /64");
    // An IPv4 client reaching a dual-stack socket is the same client as over IPv4.
    assert.equal((await signup("::ffff:192.0.2.50")).status, 201);
    assert.equal((await signup("192.0.2.50")).status, 201);
    assertLimited(await signup("::ffff:192.0.2.50"), "IPv4-mapped");
    assert.equal((await signup("192.0.2.51")).status, 201);
  } finally {
    await close();
  }
});

Deno.test("limits: a user over a limit is refused before the engine, on every trading path", async () => {
  const { call, clock, counts, close } = await limitsSetup({
    tradeRate: { perSecond: 1, burst: 2 },
    userRate: { perSecond: 1, burst: 6 },
  });
  try {
    const credentials = { email: "trader@example.com", password: "password123" };
    assert.equal((await call("POST", "/signup", { body: credentials })).status, 201);
    const { token } = JSON.parse((await call("POST", "/signin", { body: credentials })).text);
    const order = { asset: "BTC", type: "long", margin: 1000, leverage: 2, slippage: 1000 };
    for (let i = 0; i < 2; i++) {
      const opened = await call("POST", "/trade/create", { body: order, token });
      assert.equal(opened.status, 200, opened.text);
    }
    const before = counts.engineRequests;
    assertLimited(await call("POST", "/trade/create", { body: order, token }), "3rd create");
    // The router decodes %63 to "c": so does the limit.
    assertLimited(await call("POST", "/trade/%63reate", { body: order, token }), "encoded");
    assertLimited(await call("POST", "/trade/close", { body: { orderId: "1" }, token }), "close");
    assert.equal(counts.engineRequests, before, "a limited call reached the engine");
    // Reads are not trading calls; the user's 6th call of this second is still allowed.
    assert.equal((await call("GET", "/balance/usd", { token })).status, 200);
    // The 7th is over the user's limit, whatever it is.
    assertLimited(await call("GET", "/balance/usd", { token }), "7th call");
    // A bad token is not a user: 401, charged to no one.
    const forged = await call("GET", "/balance/usd", { token: `${token}x` });
    assert.equal(forged.status, 401);
    // Public endpoints without a token are not per-user calls.
    assert.equal((await call("GET", "/prices")).status, 200);
    clock.ms += 1_000;
    const again = await call("POST", "/trade/create", { body: order, token });
    assert.equal(again.status, 200, again.text);
  } finally {
    await close();
  }
});
