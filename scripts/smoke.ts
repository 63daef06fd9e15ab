/**
 * `deno task smoke [--within-ms N]`: what a first user does against a running system, timed
 * from now: the web page loads, signup and signin work, prices arrive, a trade opens and
 * closes. Exits non-zero with the step that failed. Reads API_PORT and GATEWAY_PORT.
 */
import { sleep } from "@trading/shared/wait";

const apiPort = Deno.env.get("API_PORT") || "3000";
const gatewayPort = Deno.env.get("GATEWAY_PORT") || "3001";
const withinArg = Deno.args.indexOf("--within-ms");
const withinMs = withinArg >= 0 ? Number(Deno.args[withinArg + 1]) : 30_000;
const api = `http://127.0.0.1:${apiPort}/api/v1`;
const started = Date.now();

function elapsed(): string {
  return `${((Date.now() - started) / 1000).toFixed(1)} s`;
}

async function step<T>(name: string, attempt: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const value = await attempt().catch(() => undefined);
    if (value !== undefined) {
      console.log(`ok   ${name} (${elapsed()})`);
      return value;
    }
    if (Date.now() - started > withinMs) {
      console.error(`FAIL ${name}: not done within ${withinMs} ms`);
      Deno.exit(1);
    }
    await sleep(250);
  }
}

async function call(method: string, path: string, body?: unknown, token?: string) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(api + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json().catch(() => ({})) };
}

await step("web page", async () => {
  const page = await fetch(`http://127.0.0.1:${gatewayPort}/`);
  const html = await page.text();
  const script = await fetch(`http://127.0.0.1:${gatewayPort}/app.js`);
  await script.body?.cancel();
  return page.ok && script.ok && html.includes("Order ticket") || undefined;
});
const credentials = { email: `smoke-${crypto.randomUUID()}@example.com`, password: "password123" };
await step(
  "signup",
  async () => (await call("POST", "/signup", credentials)).status === 201 || undefined,
);
const token = await step("signin", async () => {
  const answer = await call("POST", "/signin", credentials);
  return answer.status === 200 ? answer.body.token as string : undefined;
});
await step(
  "prices",
  async () => (await call("GET", "/prices")).body.prices?.length === 3 || undefined,
);
const orderId = await step("trade/create", async () => {
  const answer = await call("POST", "/trade/create", {
    asset: "BTC",
    type: "long",
    margin: 10000,
    leverage: 5,
    slippage: 200,
  }, token);
  return answer.status === 200 ? answer.body.orderId as string : undefined;
});
await step("trade/close", async () => {
  const answer = await call("POST", "/trade/close", { orderId }, token);
  return answer.status === 200 || undefined;
});
console.log(`smoke: page, signup, signin, prices, a trade opened and closed in ${elapsed()}`);
