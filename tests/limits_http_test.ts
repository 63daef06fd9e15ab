/**
 * The limits that protect every user from one, against the real API process: per-user trading
 * and call rates, signups and signins per client IP, and where the API and its /metrics listen.
 * Clients come from other loopback addresses (127.0.0.2, …) through `localAddress`, so the
 * API sees several IPs on one machine.
 */
import assert from "node:assert/strict";
import { eventually, freePort, http, type HttpResult, newUser, withEnv } from "./harness.ts";

const ORDER = { asset: "BTC", type: "long", margin: 1000, leverage: 2, slippage: 1000 };
const PASSWORD = "correct horse battery";

/** `http` from a given local address; each client is closed with the test. */
function from(localAddress: string) {
  const client = Deno.createHttpClient({ localAddress });
  const call = async (url: string, init: RequestInit = {}) => {
    const response = await fetch(url, { ...init, client } as RequestInit);
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return {
      status: response.status,
      body: body as Record<string, unknown>,
      headers: response.headers,
    };
  };
  const post = (base: string, path: string, body: unknown) =>
    call(base + path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  return { call, post, close: () => client.close() };
}

/** A 429 `rate_limited` with a whole-seconds Retry-After ≥ 1; returns the seconds. */
function assertLimited(result: HttpResult, what: string): number {
  assert.equal(result.status, 429, `${what}: ${result.status} ${JSON.stringify(result.body)}`);
  const error = (result.body as { error: { code: string; message: string } }).error;
  assert.equal(error.code, "rate_limited", what);
  assert.equal(typeof error.message, "string", what);
  const retryAfter = result.headers.get("retry-after") ?? "";
  assert.match(retryAfter, /^[1-9][0-9]*$/, `${what}: Retry-After "${retryAfter}"`);
  return Number(retryAfter);
}

function countStatuses(results: HttpResult[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}

Deno.test("limits: per-user trading and call rates, signups per IP, against the real API", async (t) => {
  await withEnv({}, async (env) => {
    await env.startSim();
    await env.startEngine();
    env.startPoller();
    // Trading calls: 1 a second, bursts of 3 (other limits generous, from the harness).
    await env.startApi({ TRADE_RATE: "1", TRADE_BURST: "3" });
    const base = env.api;
    // All calls: 1 a second, bursts of 5; signups: 2 a minute per IP. Its own metrics port.
    const otherPort = freePort();
    await env.startApi(
      { USER_RATE: "1", USER_BURST: "5", SIGNUP_RATE: "2", API_METRICS_PORT: String(freePort()) },
      otherPort,
    );
    const other = `http://127.0.0.1:${otherPort}/api/v1`;
    await eventually(
      "prices",
      async () =>
        (await http<{ prices: unknown[] }>(base, "GET", "/prices")).body.prices.length === 3,
    );
    const trader = await newUser(base);
    const neighbour = await newUser(base);
    const create = (token: string) => http(base, "POST", "/trade/create", { token, body: ORDER });

    await t.step("trading calls over TRADE_RATE are 429 and never reach the engine", async () => {
      // At once, so no token comes back in between: exactly the burst gets through.
      const results = await Promise.all(Array.from({ length: 6 }, () => create(trader.token)));
      const counts = countStatuses(results);
      assert.deepEqual(counts, { 200: 3, 429: 3 }, JSON.stringify(results.map((r) => r.body)));
      for (const result of results.filter((r) => r.status === 429)) {
        assertLimited(result, "create");
      }
      const open = await http<{ trades: unknown[] }>(base, "GET", "/trades/open", {
        token: trader.token,
      });
      assert.equal(open.status, 200, "reads are not trading calls");
      assert.equal(open.body.trades.length, 3, "a refused create opened a position");
    });

    await t.step("the limit is per user", async () => {
      const result = await create(neighbour.token);
      assert.equal(result.status, 200, JSON.stringify(result.body));
    });

    await t.step("every trading path is limited, those added later included", async () => {
      const paths: Array<[string, unknown]> = [
        ["/trade/create", ORDER],
        ["/trade/close", { orderId: "1" }],
        ["/trade/closeAll", {}],
        ["/trade/modify", { orderId: "1", stopLoss: null }],
        ["/order/cancel", { orderId: "1" }],
        ["/balance/reset", {}],
      ];
      // The trader's bucket holds at most the few tokens refilled since the last step (3 at
      // most): four copies of each path at once leave every path at least one 429.
      const results = await Promise.all(
        paths.flatMap(([path, body]) =>
          [0, 1, 2, 3].map(async () => ({
            path,
            result: await http(base, "POST", path, { token: trader.token, body }),
          }))
        ),
      );
      for (const [path] of paths) {
        const limited = results.filter((r) => r.path === path && r.result.status === 429);
        assert.ok(limited.length >= 1, `${path} was never limited`);
        for (const { result } of limited) assertLimited(result, path);
      }
    });

    await t.step("Retry-After is honest: after it, a trading call gets through", async () => {
      const results = await Promise.all([0, 1, 2, 3].map(() => create(trader.token)));
      const limited = results.find((r) => r.status === 429);
      assert.ok(limited, "not limited");
      const seconds = assertLimited(limited, "create");
      assert.ok(seconds <= 1, `Retry-After ${seconds} for a refill of 1 a second`);
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      const after = await create(trader.token);
      assert.equal(after.status, 200, JSON.stringify(after.body));
    });

    await t.step("all of a user's calls over USER_RATE are 429, others unaffected", async () => {
      const reader = await newUser(base);
      const results = await Promise.all(
        Array.from(
          { length: 8 },
          () => http(other, "GET", "/balance/usd", { token: reader.token }),
        ),
      );
      assert.deepEqual(countStatuses(results), { 200: 5, 429: 3 });
      for (const result of results.filter((r) => r.status === 429)) {
        assertLimited(result, "balance");
      }
      const trade = await http(other, "POST", "/trade/create", {
        token: reader.token,
        body: ORDER,
      });
      assertLimited(trade, "a trading call of a user over USER_RATE");
      const neighbourBalance = await http(other, "GET", "/balance/usd", { token: neighbour.token });
      assert.equal(neighbourBalance.status, 200);
      // Without a token nothing is charged to anyone.
      const prices = await Promise.all(
        Array.from({ length: 10 }, () => http(other, "GET", "/prices")),
      );
      assert.deepEqual(countStatuses(prices), { 200: 10 });
    });

    await t.step(
      "signups over SIGNUP_RATE from one IP are 429; other IPs still sign up",
      async () => {
        const fresh = () => ({ email: `u-${crypto.randomUUID()}@example.com`, password: PASSWORD });
        for (let i = 0; i < 2; i++) {
          assert.equal((await http(other, "POST", "/signup", { body: fresh() })).status, 201);
        }
        const refusedBody = fresh();
        const refused = await http(other, "POST", "/signup", { body: refusedBody });
        assert.equal(assertLimited(refused, "3rd signup"), 30);
        // Nothing was created: the same email signs up on the other API.
        assert.equal((await http(base, "POST", "/signup", { body: refusedBody })).status, 201);
        const elsewhere = from("127.0.0.2");
        try {
          assert.equal((await elsewhere.post(other, "/signup", fresh())).status, 201);
        } finally {
          elsewhere.close();
        }
      },
    );
  });
});

Deno.test("limits: signin per IP; wrong passwords from one IP do not lock the owner out", async (t) => {
  await withEnv({}, async (env) => {
    await env.startSim();
    await env.startEngine();
    await env.startApi();
    const base = env.api;
    const owner = await newUser(base);
    const wrong = { email: owner.email, password: "not the password" };

    await t.step("an attacker's IP is limited at the owner's email; the owner is not", async () => {
      const attacker = from("127.0.0.2");
      try {
        const statuses: number[] = [];
        for (let i = 0; i < 15; i++) {
          const result = await attacker.post(base, "/signin", wrong);
          statuses.push(result.status);
          if (result.status === 429) assertLimited(result, `attempt ${i}`);
        }
        assert.deepEqual(statuses, [...Array(10).fill(401), ...Array(5).fill(429)]);
      } finally {
        attacker.close();
      }
      const signin = await http(base, "POST", "/signin", {
        body: { email: owner.email, password: PASSWORD },
      });
      assert.equal(signin.status, 200, JSON.stringify(signin.body));
    });

    await t.step("one IP across many emails is limited; other IPs are not", async () => {
      const sprayer = from("127.0.0.3");
      try {
        const statuses: number[] = [];
        for (let i = 0; i < 70; i++) {
          const body = { email: `nobody-${i}@example.com`, password: "not the password" };
          statuses.push((await sprayer.post(base, "/signin", body)).status);
        }
        // 50 at once, then 50 a minute: the time the 50 hashes took may have earned a few more.
        const first = statuses.indexOf(429);
        assert.ok(first >= 50 && first <= 60, statuses.join(","));
      } finally {
        sprayer.close();
      }
      const owner2 = from("127.0.0.4");
      try {
        const signin = await owner2.post(base, "/signin", {
          email: owner.email,
          password: PASSWORD,
        });
        assert.equal(signin.status, 200, JSON.stringify(signin.body));
      } finally {
        owner2.close();
      }
    });
  });
});

Deno.test("listening: the API on BIND_HOST only; /metrics only on its own port", async () => {
  await withEnv({}, async (env) => {
    await env.startApi();
    const origin = `http://127.0.0.1:${env.ports.api}`;
    const metrics = `http://127.0.0.1:${env.ports.apiMetrics}/metrics`;

    const publicMetrics = await http(origin, "GET", "/metrics");
    assert.equal(publicMetrics.status, 404);
    assert.equal((publicMetrics.body as { error: { code: string } }).error.code, "not_found");

    assert.equal((await http(env.api, "GET", "/supportedAssets")).status, 200);
    const scraped = await eventually("api metrics", async () => {
      const response = await fetch(metrics);
      const text = await response.text();
      return response.ok && text.includes('route="/api/v1/supportedAssets"') && { response, text };
    });
    assert.match(scraped.response.headers.get("content-type") ?? "", /^text\/plain/);
    assert.match(scraped.text, /^# TYPE api_requests_total counter$/m);

    // BIND_HOST and METRICS_HOST are 127.0.0.1 here: another loopback address of this machine
    // (reachable through a 0.0.0.0 socket) must find nothing listening.
    for (const port of [env.ports.api, env.ports.apiMetrics]) {
      await assert.rejects(
        fetch(`http://127.0.0.2:${port}/metrics`).then((r) => r.body?.cancel()),
        TypeError,
        `port ${port} answers on 127.0.0.2`,
      );
    }
  });
});
