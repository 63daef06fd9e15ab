/**
 * The HTTP layer's own cost per request (`deno bench api/bench/app_bench.ts`): the Hono app
 * through `app.request()`, the real engine core in process behind it, no sockets, no Redis.
 * What a request costs the API before any IO, next to a bare handler.
 */
import { createLogger } from "@trading/shared/log";
import { signToken } from "@trading/shared/jwt";
import { buildApp } from "../app.ts";
import { argon2id } from "../auth/passwords.ts";
import type { HistoryStore } from "../stores/history.ts";
import type { UserStore } from "../stores/users.ts";
import { InProcessEngine } from "../testing/in_process_engine.ts";

const SECRET = "bench-secret-bench-secret-bench-secret-01";
const engine = new InProcessEngine();
const unused = new Proxy({}, {
  get: () => () => Promise.reject(new Error("not used by the benchmarked routes")),
});
const app = buildApp({
  engine,
  users: unused as UserStore,
  history: unused as HistoryStore,
  passwords: argon2id,
  jwtSecret: SECRET,
  log: createLogger("bench", "error"),
  // One user trades as fast as the bench can: the per-user limits would measure 429s.
  tradeRate: { perSecond: 1e9, burst: 1e9 },
  userRate: { perSecond: 1e9, burst: 1e9 },
  health: () => Promise.resolve({ redis: true, postgres: true, engine: true }),
});
const userId = "benchuser";
await engine.request({ kind: "create_account", userId });
const token = await signToken(userId, SECRET, Date.now());
const body = JSON.stringify({
  asset: "ETH",
  type: "long",
  margin: 100,
  leverage: 2,
  slippage: 1000,
});
/** Headers as a client sends them (content-length included, as Deno.serve requests have it). */
const headersFor = (text: string) => ({
  authorization: `Bearer ${token}`,
  "content-type": "application/json",
  "content-length": String(text.length),
});

function keepPriceFresh() {
  engine.tick(1);
  engine.setQuote("ETH", 350_000n, 350_010n);
}

Deno.bench("bare handler, new Response", { group: "request", baseline: true }, async () => {
  const response = await Promise.resolve(new Response("hello"));
  await response.text();
});

Deno.bench("GET /supportedAssets", { group: "request" }, async () => {
  const response = await app.request("/api/v1/supportedAssets");
  await response.text();
});

Deno.bench("POST /trade/create + /trade/close", { group: "request" }, async () => {
  keepPriceFresh();
  const opened = await app.request("/api/v1/trade/create", {
    method: "POST",
    headers: headersFor(body),
    body,
  });
  const { orderId } = await opened.json();
  const closeBody = JSON.stringify({ orderId });
  const closed = await app.request("/api/v1/trade/close", {
    method: "POST",
    headers: headersFor(closeBody),
    body: closeBody,
  });
  if (closed.status !== 200) throw new Error(await closed.text());
  await closed.text();
});
