/**
 * POST /trade/create, /trade/close, /trade/closeAll and /trade/modify: instructions to the
 * engine, answered by it (pending orders' reads and cancel are in orders.ts).
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { type Asset, ASSETS, isAsset } from "@trading/shared/assets";
import { DecimalError, MAX_UNITS, parseDecimal, QUANTITY_SCALE } from "@trading/shared/money";
import type {
  CloseAllEntry,
  CloseEntry,
  CloseView,
  ModifyEntry,
  OpenEntry,
} from "@trading/shared/schemas";
import { apiError } from "../errors.ts";
import type { ApiDeps, AppEnv } from "../deps.ts";
import { requireAuth } from "../auth/middleware.ts";
import { askEngine, refusal, sendJson } from "../http.ts";
import { jsonContent, route } from "../openapi.ts";
import { requestFingerprint } from "../idempotency.ts";
import {
  closeAllResultSchema,
  closeAllSchema,
  closeSchema,
  errorSchema,
  idempotencyKeyParameter,
  modifiedPositionSchema,
  openedOrderSchema,
  pendingOrderSchema,
  timeoutSchema,
  tradeCloseSchema,
  tradeCreateSchema,
  tradeModifySchema,
} from "../schemas.ts";

const json = jsonContent;
const security = [{ bearer: [] }];
const timeout = json(timeoutSchema, "engine_timeout, with the Idempotency-Key to retry with");

/** A keyed POST of the trading tag: its body schema and its answers. */
function tradingRoute<
  P extends string,
  B extends z.ZodType,
  R extends Record<number, ReturnType<typeof json>>,
>(deps: ApiDeps, path: P, body: B, responses: R) {
  return createRoute({
    method: "post",
    path,
    tags: ["trading"],
    security,
    middleware: [requireAuth(deps.jwtSecret)],
    parameters: [idempotencyKeyParameter],
    request: { body: { required: true, content: { "application/json": { schema: body } } } },
    responses: {
      ...responses,
      400: json(errorSchema, "invalid_request"),
      401: json(errorSchema, "unauthorized"),
      429: json(errorSchema, "rate_limited"),
      504: timeout,
    },
  });
}

/** Decimal text as integer units at `scale`, or the 400 that refuses it. */
function unitsOf(
  c: Context,
  text: string,
  scale: number,
  field: string,
  allowZero: boolean,
): bigint | Response {
  try {
    return parseDecimal(text, scale, { allowZero });
  } catch (error) {
    if (error instanceof DecimalError) {
      return apiError(c, 400, "invalid_request", `${field}: ${error.message}`);
    }
    throw error;
  }
}

/** A decimal price at the asset's scale as integer units, or the 400 that refuses it. */
function priceUnits(c: Context, asset: Asset, text: string, field: string): bigint | Response {
  return unitsOf(c, text, ASSETS[asset].priceDecimals, field, false);
}

/**
 * A close as `/trade/close` answers it. A close remembered under an Idempotency-Key before
 * partial closes existed has no close fields: it closed all of the position; one from before
 * fees paid none.
 */
function closeAnswer(close: CloseView) {
  return {
    orderId: close.orderId,
    closedQuantity: close.closedQuantity ?? close.quantity,
    remainingQuantity: close.remainingQuantity ?? "0",
    closePrice: close.closePrice,
    pnl: close.pnl,
    fee: close.fee ?? "0",
    balance: close.balance,
    closedAt: close.closedAt,
    reason: close.reason,
  };
}

/**
 * Levels sent by a modify whose order the API did not find open or pending: a stop-loss and a
 * take-profit both at the largest price, wrong for either side (docs/design.md §2), so that
 * should the order exist after all, nothing changes (422 `invalid_trigger`); otherwise the
 * engine answers whether it was the user's (409 `order_closed`) or not (404).
 */
const NO_LEVEL = MAX_UNITS - 1n;

export function tradeRoutes(app: OpenAPIHono<AppEnv>, deps: ApiDeps): void {
  const ask = (
    c: Context<AppEnv>,
    entry: Parameters<ApiDeps["engine"]["request"]>[0],
  ) =>
    askEngine(c, () => deps.engine.request(entry, deps.engineTimeoutMs), c.get("idempotencyKey"));

  route(
    app,
    tradingRoute(deps, "/trade/create", tradeCreateSchema, {
      200: json(
        z.union([openedOrderSchema, pendingOrderSchema]),
        "the opened position (a market order, or a limit whose price already holds), or the pending order",
      ),
      422: json(
        errorSchema,
        "insufficient_balance, slippage_exceeded, no_price, stale_price, invalid_trigger, quantity_too_small, too_many_positions, too_many_orders, idempotency_key_reused",
      ),
    }),
    async (c) => {
      const body = c.req.valid("json");
      const orderType = body.orderType ?? "market";
      const entry: Omit<OpenEntry, "requestId"> = {
        kind: "open",
        userId: c.get("userId"),
        asset: body.asset,
        side: body.type,
        marginCents: BigInt(body.margin),
        leverage: body.leverage,
      };
      if (orderType === "market") {
        const quote = deps.engine.latestQuote(body.asset);
        const expectedText = body.price ?? (body.type === "long" ? quote?.ask : quote?.bid);
        if (expectedText === undefined) {
          return apiError(c, 422, "no_price", "no price has been received for this asset yet");
        }
        const expectedPrice = priceUnits(c, body.asset, expectedText, "price");
        if (expectedPrice instanceof Response) return expectedPrice;
        entry.slippageBps = body.slippage!;
        entry.expectedPrice = expectedPrice;
      } else {
        const triggerPrice = priceUnits(c, body.asset, body.triggerPrice!, "triggerPrice");
        if (triggerPrice instanceof Response) return triggerPrice;
        entry.orderType = orderType;
        entry.triggerPrice = triggerPrice;
        if (body.expiresAt !== undefined) entry.expiresAt = body.expiresAt;
      }
      const triggers = [["stopLoss", body.stopLoss], ["takeProfit", body.takeProfit]] as const;
      for (const [field, text] of triggers) {
        if (text === undefined) continue;
        const units = priceUnits(c, body.asset, text, field);
        if (units instanceof Response) return units;
        entry[field] = units;
      }
      entry.idempotencyKey = c.get("idempotencyKey");
      // A market order's fields are those of before pending orders: its retries keep their
      // fingerprint across the upgrade.
      const fields: unknown[] = [
        body.asset,
        body.type,
        body.margin,
        body.leverage,
        body.slippage,
        body.price,
        body.stopLoss,
        body.takeProfit,
      ];
      if (orderType !== "market") fields.push(orderType, body.triggerPrice, body.expiresAt);
      entry.fingerprint = requestFingerprint("create", fields);
      const answer = await ask(c, entry);
      if (answer instanceof Response) return answer;
      if (!answer.ok) return refusal(c, answer);
      const result = answer.result;
      if (result.event === "opened") {
        // An open remembered under its key from before fees paid none.
        const { event: _event, orderId, fee = "0", ...position } = result;
        return sendJson(c, 200, { orderId, status: "open", ...position, fee });
      }
      if (result.event === "placed") {
        const { event: _event, ...order } = result;
        return sendJson(c, 200, order);
      }
      throw new Error("unexpected engine answer to open");
    },
  );

  route(
    app,
    tradingRoute(deps, "/trade/close", tradeCloseSchema, {
      200: json(closeSchema, "the close: all of the position, or the part asked"),
      404: json(errorSchema, "order_not_found"),
      409: json(errorSchema, "order_closed"),
      422: json(
        errorSchema,
        "invalid_quantity (0, more than the position, or leaving under 100 cents of margin), no_price, stale_price, idempotency_key_reused",
      ),
    }),
    async (c) => {
      const { orderId, quantity } = c.req.valid("json");
      const entry: Omit<CloseEntry, "requestId"> = {
        kind: "close",
        userId: c.get("userId"),
        orderId,
        idempotencyKey: c.get("idempotencyKey"),
      };
      // A full close without `quantity` keeps the fingerprint it had before partial closes.
      const fields: unknown[] = [orderId];
      if (quantity !== undefined) {
        // Zero is the engine's to refuse (422 invalid_quantity), as a part too large.
        const units = unitsOf(c, quantity, QUANTITY_SCALE, "quantity", true);
        if (units instanceof Response) return units;
        entry.quantity = units;
        fields.push(units.toString());
      }
      entry.fingerprint = requestFingerprint("close", fields);
      const answer = await ask(c, entry);
      if (answer instanceof Response) return answer;
      if (!answer.ok) return refusal(c, answer);
      const result = answer.result;
      if (result.event !== "closed" && result.event !== "partially_closed") {
        throw new Error("unexpected engine answer to close");
      }
      return sendJson(c, 200, closeAnswer(result));
    },
  );

  route(
    app,
    tradingRoute(deps, "/trade/closeAll", closeAllSchema, {
      200: json(closeAllResultSchema, "every close, in order ID order, at the same quotes"),
      422: json(
        errorSchema,
        "no_price, stale_price (then nothing is closed), idempotency_key_reused",
      ),
    }),
    async (c) => {
      const { asset } = c.req.valid("json");
      const entry: Omit<CloseAllEntry, "requestId"> = {
        kind: "close_all",
        userId: c.get("userId"),
        idempotencyKey: c.get("idempotencyKey"),
        fingerprint: requestFingerprint("closeAll", [asset]),
      };
      if (asset !== undefined) entry.asset = asset;
      const answer = await ask(c, entry);
      if (answer instanceof Response) return answer;
      if (!answer.ok) return refusal(c, answer);
      if (answer.result.event !== "closed_all") {
        throw new Error("unexpected engine answer to closeAll");
      }
      const { closed, balance } = answer.result;
      return sendJson(c, 200, { closed: closed.map(closeAnswer), balance });
    },
  );

  route(
    app,
    tradingRoute(deps, "/trade/modify", tradeModifySchema, {
      200: json(
        z.union([modifiedPositionSchema, pendingOrderSchema]),
        "the position as /trades/open shows it with status open, or the pending order",
      ),
      404: json(errorSchema, "order_not_found"),
      409: json(errorSchema, "order_closed"),
      422: json(errorSchema, "invalid_trigger, no_price, stale_price, idempotency_key_reused"),
    }),
    async (c) => {
      const body = c.req.valid("json");
      const asset = await assetOf(c, body.orderId);
      if (asset instanceof Response) return asset;
      const entry: Omit<ModifyEntry, "requestId"> = {
        kind: "modify",
        userId: c.get("userId"),
        orderId: body.orderId,
        idempotencyKey: c.get("idempotencyKey"),
        // null (remove) is not absent (keep): "" stands for it, as on the wire.
        fingerprint: requestFingerprint("modify", [
          body.orderId,
          body.stopLoss === null ? "" : body.stopLoss,
          body.takeProfit === null ? "" : body.takeProfit,
        ]),
      };
      const levels = [["stopLoss", body.stopLoss], ["takeProfit", body.takeProfit]] as const;
      for (const [field, text] of levels) {
        if (asset === undefined) {
          entry[field] = NO_LEVEL;
        } else if (text === null) {
          entry[field] = null;
        } else if (text !== undefined) {
          const units = priceUnits(c, asset, text, field);
          if (units instanceof Response) return units;
          entry[field] = units;
        }
      }
      const answer = await ask(c, entry);
      if (answer instanceof Response) return answer;
      if (!answer.ok) return refusal(c, answer);
      const result = answer.result;
      if (result.event !== "modified") throw new Error("unexpected engine answer to modify");
      if (result.position !== undefined) {
        const { orderId, ...position } = result.position;
        return sendJson(c, 200, { orderId, status: "open", ...position });
      }
      return sendJson(c, 200, result.order);
    },
  );

  /**
   * The asset of the user's open position or pending order `orderId` (its levels are sent in
   * that asset's units), or undefined when it is neither. Two one-item reads from just before
   * it, appended in this order: pending first, so an order that fills between them is seen by
   * one or the other. An order's asset never changes, so the modify after them is right
   * whatever happens in between.
   */
  async function assetOf(c: Context<AppEnv>, orderId: string) {
    const before = BigInt(orderId) - 1n;
    const page = {
      kind: "query" as const,
      userId: c.get("userId"),
      limit: 1,
      ...(before > 0n ? { cursor: before.toString() } : {}),
    };
    const read = (scope: "pending" | "open") =>
      askEngine(
        c,
        () => deps.engine.request({ ...page, scope }, deps.engineTimeoutMs),
        c.get("idempotencyKey"),
      );
    const answers = await Promise.all([read("pending"), read("open")]);
    for (const answer of answers) {
      if (answer instanceof Response) return answer;
      if (!answer.ok) return refusal(c, answer);
      const result = answer.result;
      const found = result.event === "pending_orders"
        ? result.orders[0]
        : result.event === "open_positions"
        ? result.positions[0]
        : undefined;
      if (found?.orderId === orderId && isAsset(found.asset)) return found.asset;
    }
    return undefined;
  }
}
