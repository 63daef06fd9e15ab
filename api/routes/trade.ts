/** POST /trade/create and /trade/close: instructions to the engine, answered by it. */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { type Asset, ASSETS } from "@trading/shared/assets";
import { DecimalError, parseDecimal } from "@trading/shared/money";
import type { CloseEntry, OpenEntry } from "@trading/shared/schemas";
import { apiError } from "../errors.ts";
import type { ApiDeps, AppEnv } from "../deps.ts";
import { requireAuth } from "../auth/middleware.ts";
import { askEngine, refusal, sendJson } from "../http.ts";
import { jsonContent, route } from "../openapi.ts";
import { requestFingerprint } from "../idempotency.ts";
import {
  closeSchema,
  errorSchema,
  idempotencyKeyParameter,
  orderSchema,
  timeoutSchema,
  tradeCloseSchema,
  tradeCreateSchema,
} from "../schemas.ts";

const json = jsonContent;
const security = [{ bearer: [] }];

function createTradeRoute(deps: ApiDeps) {
  return createRoute({
    method: "post",
    path: "/trade/create",
    tags: ["trading"],
    security,
    middleware: [requireAuth(deps.jwtSecret)],
    parameters: [idempotencyKeyParameter],
    request: {
      body: { required: true, content: { "application/json": { schema: tradeCreateSchema } } },
    },
    responses: {
      200: json(orderSchema, "the opened position"),
      400: json(errorSchema, "invalid_request"),
      401: json(errorSchema, "unauthorized"),
      422: json(
        errorSchema,
        "insufficient_balance, slippage_exceeded, no_price, stale_price, invalid_trigger, quantity_too_small, too_many_positions, idempotency_key_reused",
      ),
      429: json(errorSchema, "rate_limited"),
      504: json(timeoutSchema, "engine_timeout, with the Idempotency-Key to retry with"),
    },
  });
}

function closeTradeRoute(deps: ApiDeps) {
  return createRoute({
    method: "post",
    path: "/trade/close",
    tags: ["trading"],
    security,
    middleware: [requireAuth(deps.jwtSecret)],
    parameters: [idempotencyKeyParameter],
    request: {
      body: { required: true, content: { "application/json": { schema: tradeCloseSchema } } },
    },
    responses: {
      200: json(closeSchema, "the closed position"),
      401: json(errorSchema, "unauthorized"),
      404: json(errorSchema, "order_not_found"),
      409: json(errorSchema, "order_closed"),
      422: json(errorSchema, "idempotency_key_reused"),
      429: json(errorSchema, "rate_limited"),
      504: json(timeoutSchema, "engine_timeout, with the Idempotency-Key to retry with"),
    },
  });
}

/** A decimal price at the asset's scale as integer units, or the reason it is refused. */
function priceUnits(asset: Asset, text: string, field: string): bigint | { error: string } {
  try {
    return parseDecimal(text, ASSETS[asset].priceDecimals, { allowZero: false });
  } catch (error) {
    if (error instanceof DecimalError) return { error: `${field}: ${error.message}` };
    throw error;
  }
}

export function tradeRoutes(app: OpenAPIHono<AppEnv>, deps: ApiDeps): void {
  route(app, createTradeRoute(deps), async (c) => {
    const body = c.req.valid("json");
    const key = c.get("idempotencyKey");
    const quote = deps.engine.latestQuote(body.asset);
    const expectedText = body.price ?? (body.type === "long" ? quote?.ask : quote?.bid);
    if (expectedText === undefined) {
      return apiError(c, 422, "no_price", "no price has been received for this asset yet");
    }
    const expectedPrice = priceUnits(body.asset, expectedText, "price");
    if (typeof expectedPrice !== "bigint") {
      return apiError(c, 400, "invalid_request", expectedPrice.error);
    }
    const entry: Omit<OpenEntry, "requestId"> = {
      kind: "open",
      userId: c.get("userId"),
      asset: body.asset,
      side: body.type,
      marginCents: BigInt(body.margin),
      leverage: body.leverage,
      slippageBps: body.slippage,
      expectedPrice,
    };
    const triggers = [["stopLoss", body.stopLoss], ["takeProfit", body.takeProfit]] as const;
    for (const [field, text] of triggers) {
      if (text === undefined) continue;
      const units = priceUnits(body.asset, text, field);
      if (typeof units !== "bigint") return apiError(c, 400, "invalid_request", units.error);
      entry[field] = units;
    }
    entry.idempotencyKey = key;
    entry.fingerprint = requestFingerprint("create", [
      body.asset,
      body.type,
      body.margin,
      body.leverage,
      body.slippage,
      body.price,
      body.stopLoss,
      body.takeProfit,
    ]);
    const answer = await askEngine(
      c,
      () => deps.engine.request(entry, deps.engineTimeoutMs),
      key,
    );
    if (answer instanceof Response) return answer;
    if (!answer.ok) return refusal(c, answer);
    if (answer.result.event !== "opened") throw new Error("unexpected engine answer to open");
    const { event: _event, ...order } = answer.result;
    return sendJson(c, 200, order);
  });

  route(app, closeTradeRoute(deps), async (c) => {
    const { orderId } = c.req.valid("json");
    const key = c.get("idempotencyKey");
    const entry: Omit<CloseEntry, "requestId"> = {
      kind: "close",
      userId: c.get("userId"),
      orderId,
      idempotencyKey: key,
      fingerprint: requestFingerprint("close", [orderId]),
    };
    const answer = await askEngine(
      c,
      () => deps.engine.request(entry, deps.engineTimeoutMs),
      key,
    );
    if (answer instanceof Response) return answer;
    if (!answer.ok) return refusal(c, answer);
    if (answer.result.event !== "closed") throw new Error("unexpected engine answer to close");
    const r = answer.result;
    return sendJson(c, 200, {
      orderId: r.orderId,
      closePrice: r.closePrice,
      pnl: r.pnl,
      balance: r.balance,
      closedAt: r.closedAt,
      reason: r.reason,
    });
  });
}
