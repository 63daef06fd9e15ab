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

Deno.test("openapi.json documents every endpoint of API.md", async () => {
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
