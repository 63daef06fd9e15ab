/**
 * Builds the Hono app from its dependencies. Every error leaves in the one error shape (README, HTTP API); bodies are
 * JSON only, at most 64 KiB; the OpenAPI document is generated from the same zod schemas.
 * Each user's calls are rate limited before any other work; `/metrics` is not served here
 * (main.ts serves the registry on its own, private port).
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { Registry } from "@trading/shared/metrics";
import { apiError } from "./errors.ts";
import { cors } from "./cors.ts";
import { secureHeaders } from "./secure_headers.ts";
import { docsPage } from "./docs_page.ts";
import type { ApiDeps, AppEnv, Rate } from "./deps.ts";
import { authenticate, limitUsers } from "./auth/middleware.ts";
import { KEYED_PATHS, keyRequest } from "./idempotency.ts";
import { DEFAULT_MAX_KEYS, TokenBuckets } from "./auth/rate_limit.ts";
import { authRoutes } from "./routes/auth.ts";
import { tradeRoutes } from "./routes/trade.ts";
import { accountRoutes } from "./routes/account.ts";
import { marketRoutes } from "./routes/market.ts";
import { orderRoutes } from "./routes/orders.ts";

export const BASE_PATH = "/api/v1";
export const MAX_BODY_BYTES = 64 * 1024;
/** The README's defaults, for an app built without them (main.ts passes the configured ones). */
const DEFAULT_TRADE_RATE: Rate = { perSecond: 20, burst: 40 };
const DEFAULT_USER_RATE: Rate = { perSecond: 100, burst: 200 };

const STATUS_CODES: Record<number, string> = {
  400: "invalid_request",
  401: "unauthorized",
  404: "not_found",
  405: "method_not_allowed",
  413: "payload_too_large",
  415: "unsupported_media_type",
};

export function buildApp(deps: ApiDeps): OpenAPIHono<AppEnv> {
  const api = new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (result.success) return;
      const issues = result.error.issues.slice(0, 10).map((issue) => ({
        path: issue.path.join("."),
        message: issue.message,
      }));
      const summary = issues.map((i) => `${i.path || "body"}: ${i.message}`).join("; ");
      return apiError(c, 400, "invalid_request", summary.slice(0, 500), issues);
    },
  });

  api.use("*", secureHeaders());
  api.use(
    "*",
    cors({
      origins: deps.corsOrigins ?? [],
      allowHeaders: ["authorization", "content-type", "idempotency-key"],
      allowMethods: ["GET", "POST"],
      exposeHeaders: ["idempotency-key", "retry-after"],
      maxAgeS: 600,
    }),
  );
  // First, so every answer to a keyed call (a 400, 401 or 429 too) names its key.
  for (const path of KEYED_PATHS) api.post(path, keyRequest);
  // Once per request, before the body is read: an over-limit user costs a map lookup.
  const maxKeys = deps.limiterMaxKeys ?? DEFAULT_MAX_KEYS;
  api.use("*", authenticate(deps.jwtSecret));
  api.use(
    "*",
    limitUsers({
      calls: new TokenBuckets({ ...(deps.userRate ?? DEFAULT_USER_RATE), maxKeys }),
      trades: new TokenBuckets({ ...(deps.tradeRate ?? DEFAULT_TRADE_RATE), maxKeys }),
      basePath: BASE_PATH,
      nowMs: deps.nowMs ?? Date.now,
    }),
  );
  const bodiless = new Set(BODILESS_POSTS.map((path) => BASE_PATH + path));
  api.use("*", async (c, next) => {
    if (c.req.method === "POST" && !(bodiless.has(c.req.path) && withoutBody(c))) {
      const type = c.req.header("content-type") ?? "";
      if (!/^application\/json\s*(;|$)/i.test(type)) {
        return apiError(c, 415, "unsupported_media_type", "send the body as application/json");
      }
    }
    return await next();
  });
  const tooLarge = (c: Context) => apiError(c, 413, "payload_too_large", "the body is over 64 KiB");
  const streamedLimit = bodyLimit({ maxSize: MAX_BODY_BYTES, onError: tooLarge });
  api.use("*", async (c, next) => {
    // A declared length is checked as declared (the server reads no more than it says);
    // touching `body` here would turn every request's body into a stream. Chunked bodies,
    // which declare nothing, are counted as they stream in.
    const length = c.req.header("content-length");
    if (length !== undefined && c.req.header("transfer-encoding") === undefined) {
      if (Number(length) > MAX_BODY_BYTES) return tooLarge(c);
      return await next();
    }
    return await streamedLimit(c, next);
  });

  authRoutes(api, deps);
  tradeRoutes(api, deps);
  orderRoutes(api, deps);
  accountRoutes(api, deps);
  marketRoutes(api, deps);

  api.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
  });
  api.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: { title: "Trading API", version: "1.0.0", description: "CFD trading on BTC, ETH, SOL" },
    servers: [{ url: BASE_PATH }],
  });

  let docs: string | undefined;
  api.get("/docs", (c) => {
    docs ??= docsPage(
      api.getOpenAPI31Document({
        openapi: "3.1.0",
        info: { title: "Trading API", version: "1.0.0" },
        servers: [{ url: BASE_PATH }],
      }) as Parameters<typeof docsPage>[0],
    );
    return c.html(docs);
  });

  api.notFound((c) => apiError(c, 404, "not_found", "no such endpoint"));
  api.onError((error, c) => {
    if (error instanceof HTTPException) {
      const status = error.status as ContentfulStatusCode;
      const code = STATUS_CODES[status] ?? "error";
      const message = status === 400 ? "the body is not valid JSON" : error.message || code;
      return apiError(c, status, code, message);
    }
    if (isUnavailable(error)) {
      return apiError(c, 503, "unavailable", "a dependency is unavailable; retry shortly");
    }
    deps.log.error("unhandled error", { error, path: c.req.path });
    return apiError(c, 500, "internal", "internal error");
  });

  const app = new OpenAPIHono<AppEnv>();
  const metrics = deps.metrics ?? new Registry();
  const requests = metrics.counter("api_requests_total", "HTTP requests by route and status");
  const latency = metrics.histogram("api_request_duration_seconds", "HTTP request latency", [
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    5,
  ]);
  app.use("*", async (c, next) => {
    const started = performance.now();
    // A caller's X-Request-Id is kept (if sane) so its logs and ours line up; else one is made.
    const given = c.req.header("x-request-id");
    const requestId = given && /^[A-Za-z0-9_.-]{1,64}$/.test(given) ? given : crypto.randomUUID();
    c.header("x-request-id", requestId);
    await next();
    deps.log.debug("request", {
      requestId,
      method: c.req.method,
      route: c.req.routePath,
      status: c.res.status,
      ms: Math.round((performance.now() - started) * 10) / 10,
    });
    // The route pattern, not the raw path: unknown paths must not grow the label set.
    const route = c.req.routePath === "/*" ? "unmatched" : c.req.routePath;
    requests.inc({ method: c.req.method, route, status: String(c.res.status) });
    latency.observe((performance.now() - started) / 1000, { route });
  });
  app.route(BASE_PATH, api);
  app.notFound((c) => apiError(c, 404, "not_found", "no such endpoint"));
  app.onError((_error, c) => apiError(c, 500, "internal", "internal error"));
  return app;
}

/** POSTs that ask for nothing but themselves: sent without a body, they need no content type. */
const BODILESS_POSTS = ["/balance/reset"];

/** HTTP/1.1's rule: a request has a body only when it says so (a length above 0, or chunks). */
function withoutBody(c: Context): boolean {
  if (c.req.raw.body === null) return true;
  const length = c.req.header("content-length");
  return c.req.header("transfer-encoding") === undefined &&
    (length === undefined || length === "0");
}

/** Connection-level failures of Postgres or Redis: answered 503, not 500. */
function isUnavailable(error: unknown): boolean {
  const text = `${(error as { code?: string })?.code ?? ""} ${(error as Error)?.message ?? ""}`;
  return /ECONNREFUSED|ECONNRESET|CONNECTION_|CONNECT_TIMEOUT|ETIMEDOUT|EPIPE|Connection is closed|Stream isn't writeable|57P0[13]|53300/i
    .test(text);
}
