/** GET /supportedAssets, /prices, /candles and /health: no authentication. */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { ASSET_SYMBOLS, ASSETS } from "@trading/shared/assets";
import type { MiddlewareHandler } from "hono";
import type { ApiDeps, AppEnv } from "../deps.ts";
import { DEFAULT_MAX_KEYS, TokenBuckets } from "../auth/rate_limit.ts";
import { clientIp, limited } from "./auth.ts";
import { jsonContent, route } from "../openapi.ts";
import { apiError } from "../errors.ts";
import {
  assetSchema,
  CANDLES_DEFAULT,
  candleSchema,
  candlesQuerySchema,
  errorSchema,
  priceSchema,
} from "../schemas.ts";

const json = jsonContent;

export function marketRoutes(app: OpenAPIHono<AppEnv>, deps: ApiDeps): void {
  // Anyone may read candles, and each read may cost Postgres 1,000 rows: per client address.
  const candleReads = new TokenBuckets({
    ...(deps.candleReadRate ?? { perSecond: 10, burst: 20 }),
    maxKeys: deps.limiterMaxKeys ?? DEFAULT_MAX_KEYS,
  });
  const limitCandleReads: MiddlewareHandler<AppEnv> = async (c, next) => {
    const waitMs = candleReads.take(clientIp(c, deps.trustedProxies), (deps.nowMs ?? Date.now)());
    return waitMs === 0 ? await next() : limited(c, waitMs, "candle reads from this address");
  };
  route(
    app,
    createRoute({
      method: "get",
      path: "/supportedAssets",
      tags: ["market"],
      responses: { 200: json(z.object({ assets: z.array(assetSchema) }), "tradable assets") },
    }),
    (c) => c.json({ assets: ASSET_SYMBOLS.map((symbol) => ASSETS[symbol]) }, 200),
  );

  route(
    app,
    createRoute({
      method: "get",
      path: "/prices",
      tags: ["market"],
      responses: { 200: json(z.object({ prices: z.array(priceSchema) }), "latest quotes") },
    }),
    (c) => {
      const prices = [];
      for (const asset of ASSET_SYMBOLS) {
        const quote = deps.engine.latestQuote(asset);
        if (quote) prices.push({ asset, ...quote });
      }
      return c.json({ prices }, 200);
    },
  );

  route(
    app,
    createRoute({
      method: "get",
      path: "/candles",
      tags: ["market"],
      description: "OHLC of the bid, oldest first, the candle still open last; gaps stay gaps",
      middleware: [limitCandleReads],
      request: { query: candlesQuerySchema },
      responses: {
        200: json(z.object({ candles: z.array(candleSchema) }), "candles"),
        400: json(errorSchema, "a parameter is missing or out of range"),
        429: json(errorSchema, "rate_limited: too many reads from this address"),
      },
    }),
    async (c) => {
      if (deps.candles === undefined) {
        return apiError(c, 503, "unavailable", "candles are not served here");
      }
      const { asset, interval, limit, before } = c.req.valid("query");
      const candles = await deps.candles.list(
        asset,
        interval,
        limit === undefined ? CANDLES_DEFAULT : Number(limit),
        before === undefined ? undefined : Number(before),
      );
      return c.json({ candles }, 200);
    },
  );

  const healthSchema = z.object({
    status: z.enum(["ok", "unavailable"]),
    redis: z.boolean(),
    postgres: z.boolean(),
    engine: z.boolean(),
    engineLastId: z.string().optional(),
    stateHash: z.string().optional(),
    stateHashId: z.string().optional(),
  });
  route(
    app,
    createRoute({
      method: "get",
      path: "/health",
      tags: ["market"],
      responses: {
        200: json(healthSchema, "Redis, Postgres and the engine answer"),
        503: json(healthSchema, "a dependency is down"),
      },
    }),
    async (c) => {
      const report = await deps.health();
      const ok = report.redis && report.postgres && report.engine;
      return c.json({ status: ok ? "ok" : "unavailable", ...report }, ok ? 200 : 503);
    },
  );
}
