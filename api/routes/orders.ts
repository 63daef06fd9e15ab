/**
 * Pending limit and stop orders: GET /orders/pending and /orders/history (engine queries, a
 * page at a time) and POST /order/cancel (docs/design.md §2, Pending orders).
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { OPEN_PAGE_MAX } from "@trading/shared/schemas";
import type { CancelEntry } from "@trading/shared/schemas";
import { apiError } from "../errors.ts";
import type { ApiDeps, AppEnv } from "../deps.ts";
import { requireAuth } from "../auth/middleware.ts";
import { askEngine, queryEngine, refusal, sendJson } from "../http.ts";
import { jsonContent, route } from "../openapi.ts";
import { requestFingerprint } from "../idempotency.ts";
import {
  cancelResultSchema,
  endedOrderSchema,
  errorSchema,
  idempotencyKeyParameter,
  openTradesQuerySchema,
  orderCancelSchema,
  ordersHistoryQuerySchema,
  pendingOrderSchema,
  timeoutSchema,
} from "../schemas.ts";

const json = jsonContent;
const HISTORY_PAGE_DEFAULT = 50;
const HISTORY_PAGE_MAX = 100;

export function orderRoutes(app: OpenAPIHono<AppEnv>, deps: ApiDeps): void {
  const middleware = [requireAuth(deps.jwtSecret)];
  const security = [{ bearer: [] }];
  const unauthorized = json(errorSchema, "unauthorized");
  const invalid = json(errorSchema, "invalid_request");

  route(
    app,
    createRoute({
      method: "get",
      path: "/orders/pending",
      tags: ["orders"],
      security,
      middleware,
      request: { query: openTradesQuerySchema },
      responses: {
        200: json(
          z.object({ orders: z.array(pendingOrderSchema), nextCursor: z.string().nullable() }),
          "waiting limit and stop orders, oldest first, a page at a time",
        ),
        400: invalid,
        401: unauthorized,
      },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      if (limit !== undefined && Number(limit) > OPEN_PAGE_MAX) {
        return apiError(c, 400, "invalid_request", `limit must be 1–${OPEN_PAGE_MAX}`);
      }
      const page = await queryEngine(c, deps, "pending_orders", {
        scope: "pending",
        limit: limit === undefined ? undefined : Number(limit),
        cursor,
      });
      if (page instanceof Response) return page;
      return sendJson(c, 200, { orders: page.orders, nextCursor: page.nextCursor });
    },
  );

  route(
    app,
    createRoute({
      method: "get",
      path: "/orders/history",
      tags: ["orders"],
      security,
      middleware,
      request: { query: ordersHistoryQuerySchema },
      responses: {
        200: json(
          z.object({ orders: z.array(endedOrderSchema), nextCursor: z.string().nullable() }),
          "pending orders that ended (filled, cancelled, expired), newest first; the latest 200",
        ),
        400: invalid,
        401: unauthorized,
      },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const limit = query.limit === undefined ? HISTORY_PAGE_DEFAULT : Number(query.limit);
      if (limit > HISTORY_PAGE_MAX) {
        return apiError(c, 400, "invalid_request", `limit must be 1–${HISTORY_PAGE_MAX}`);
      }
      const page = await queryEngine(c, deps, "orders_history", {
        scope: "orders_history",
        limit,
        cursor: query.cursor,
      });
      if (page instanceof Response) return page;
      // The fields API.md lists; levels and expiry belonged to the order while it waited.
      const orders = page.orders.map((order) => ({
        orderId: order.orderId,
        orderType: order.orderType,
        asset: order.asset,
        type: order.type,
        margin: order.margin,
        leverage: order.leverage,
        triggerPrice: order.triggerPrice,
        status: order.status,
        createdAt: order.createdAt,
        endedAt: order.endedAt,
      }));
      return sendJson(c, 200, { orders, nextCursor: page.nextCursor });
    },
  );

  route(
    app,
    createRoute({
      method: "post",
      path: "/order/cancel",
      tags: ["orders"],
      security,
      middleware,
      parameters: [idempotencyKeyParameter],
      request: {
        body: { required: true, content: { "application/json": { schema: orderCancelSchema } } },
      },
      responses: {
        200: json(cancelResultSchema, "cancelled: the reserved margin is back in balance"),
        400: invalid,
        401: unauthorized,
        404: json(errorSchema, "order_not_found"),
        409: json(errorSchema, "order_not_pending (filled, cancelled or expired)"),
        422: json(errorSchema, "idempotency_key_reused"),
        429: json(errorSchema, "rate_limited"),
        504: json(timeoutSchema, "engine_timeout, with the Idempotency-Key to retry with"),
      },
    }),
    async (c) => {
      const { orderId } = c.req.valid("json");
      const key = c.get("idempotencyKey");
      const entry: Omit<CancelEntry, "requestId"> = {
        kind: "cancel",
        userId: c.get("userId"),
        orderId,
        idempotencyKey: key,
        fingerprint: requestFingerprint("cancel", [orderId]),
      };
      const answer = await askEngine(
        c,
        () => deps.engine.request(entry, deps.engineTimeoutMs),
        key,
      );
      if (answer instanceof Response) return answer;
      if (!answer.ok) return refusal(c, answer);
      const result = answer.result;
      if (result.event !== "cancelled") throw new Error("unexpected engine answer to cancel");
      return sendJson(c, 200, {
        orderId: result.orderId,
        status: "cancelled",
        balance: result.balance,
      });
    },
  );
}
