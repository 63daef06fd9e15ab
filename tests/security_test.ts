/** Security properties against the real processes: tokens, secrets, CORS, limits, logs. */
import assert from "node:assert/strict";
import { sign } from "hono/jwt";
import { type Env, eventually, http, JWT_SECRET, newUser, withEnv } from "./harness.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/**
 * Starts the API with `vars` changed (undefined removes one) and waits for it to exit; one that
 * is still running after 30 s is killed and reported as such.
 */
async function startApiExpectingExit(
  env: Env,
  vars: Record<string, string | undefined>,
): Promise<{ code: number; output: string }> {
  const all: Record<string, string> = { ...env.env, API_PORT: "0", API_METRICS_PORT: "0" };
  for (const [name, value] of Object.entries(vars)) {
    if (value === undefined) delete all[name];
    else all[name] = value;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "api/main.ts"],
    cwd: ROOT,
    env: all,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  try {
    const { code, stdout, stderr } = await child.output();
    const decoder = new TextDecoder();
    return { code, output: decoder.decode(stdout) + decoder.decode(stderr) };
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("security: JWT algorithms, secret length, CORS, rate limits, mass assignment, clean logs", async (t) => {
  await withEnv({ CORS_ORIGINS: "https://app.example.com", LOG_LEVEL: "debug" }, async (env) => {
    await env.startAll();
    const base = env.api;
    const password = "correct horse battery";
    const user = await newUser(base);
    await eventually(
      "prices",
      async () =>
        (await http<{ prices: unknown[] }>(base, "GET", "/prices")).body.prices.length === 3,
    );

    await t.step("a token signed with another algorithm is refused", async () => {
      const exp = Math.floor(Date.now() / 1000) + 600;
      for (const alg of ["HS384", "HS512"] as const) {
        const token = await sign({ sub: user.userId, exp }, JWT_SECRET, alg);
        assert.equal((await http(base, "GET", "/balance", { token })).status, 401, alg);
      }
      const noExp = await sign({ sub: user.userId }, JWT_SECRET, "HS256");
      assert.equal((await http(base, "GET", "/balance", { token: noExp })).status, 401, "no exp");
      assert.equal((await http(base, "GET", "/balance", { token: user.token })).status, 200);
    });

    await t.step(
      "a missing or short JWT_SECRET stops the API with exit 2, DEV=1 or not",
      async () => {
        // No built-in secret exists any more: DEV=1 (gone) must not bring one back.
        const cases: Array<[Record<string, string | undefined>, string]> = [
          [{ JWT_SECRET: undefined }, "JWT_SECRET is required"],
          [{ JWT_SECRET: undefined, DEV: "1" }, "JWT_SECRET is required"],
          [{ JWT_SECRET: "" }, "JWT_SECRET is required"],
          [{ JWT_SECRET: "too-short" }, "JWT_SECRET must be at least 32 bytes"],
          [{ JWT_SECRET: "too-short", DEV: "1" }, "JWT_SECRET must be at least 32 bytes"],
        ];
        for (const [vars, line] of cases) {
          const { code, output } = await startApiExpectingExit(env, vars);
          assert.equal(code, 2, `${JSON.stringify(vars)}:\n${output}`);
          assert.ok(output.includes(line), `${JSON.stringify(vars)} says:\n${output}`);
        }
      },
    );

    await t.step("CORS answers only the allowlisted origin", async () => {
      const preflight = (origin: string) =>
        fetch(`${base}/trade/create`, {
          method: "OPTIONS",
          headers: { origin, "access-control-request-method": "POST" },
        }).then(async (r) => {
          await r.body?.cancel();
          return r.headers.get("access-control-allow-origin");
        });
      assert.equal(await preflight("https://app.example.com"), "https://app.example.com");
      assert.equal(await preflight("https://evil.example.com"), null);
    });

    await t.step("userId, balance and openPrice in a body are refused", async () => {
      const trade = { asset: "BTC", type: "long", margin: 1000, leverage: 2, slippage: 100 };
      for (const extra of [{ userId: "someone-else" }, { balance: 99999999 }, { openPrice: "1" }]) {
        const result = await http(base, "POST", "/trade/create", {
          token: user.token,
          body: { ...trade, ...extra },
        });
        assert.equal(result.status, 400, JSON.stringify(extra));
      }
    });

    await t.step("signin is rate limited per IP across emails", async () => {
      let limited = false;
      for (let i = 0; i < 60 && !limited; i++) {
        const attempt = await http(base, "POST", "/signin", {
          body: { email: `nobody-${i}@example.com`, password: "wrong password" },
        });
        limited = attempt.status === 429;
        if (limited) assert.match(attempt.headers.get("retry-after") ?? "", /^[1-9][0-9]*$/);
      }
      assert.ok(limited, "60 signins from one IP were never limited");
    });

    await t.step("no password, token or secret appears in any log line", async () => {
      const trade = { asset: "ETH", type: "short", margin: 1000, leverage: 2, slippage: 100 };
      assert.equal(
        (await http(base, "POST", "/trade/create", { token: user.token, body: trade })).status,
        200,
      );
      const logs = env.logs();
      assert.ok(logs.length > 1000, "the processes logged nothing to check");
      for (const secret of [password, user.token, user.token.split(".")[2]!, JWT_SECRET]) {
        assert.ok(!logs.includes(secret), `a log line contains ${secret.slice(0, 12)}…`);
      }
    });
  });
});
