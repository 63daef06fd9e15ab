/**
 * GET /balance, /balance/usd, /trades/open (engine queries), /trades (history) and POST
 * /balance/reset (an engine instruction).
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { marginLevelPercent } from "@trading/shared/position_math";
import { OPEN_PAGE_MAX, type QueryEntry, type ResetEntry } from "@trading/shared/schemas";
import { apiError } from "../errors.ts";
import type { ApiDeps, AppEnv } from "../deps.ts";
import { requireAuth } from "../auth/middleware.ts";
import { askEngine, queryEngine, refusal, type Result, sendJson } from "../http.ts";
import { requestFingerprint } from "../idempotency.ts";
import { jsonContent, route } from "../openapi.ts";
import {
  balanceSchema,
  errorSchema,
  historyQuerySchema,
  historyTradeSchema,
  idempotencyKeyParameter,
  openTradeSchema,
  openTradesQuerySchema,
  resetResultSchema,
  timeoutSchema,
} from "../schemas.ts";

const json = jsonContent;

type AccountState = Extract<Result, { event: "account_state" }>;
type OpenPositions = Extract<Result, { event: "open_positions" }>;

export function accountRoutes(app: OpenAPIHono<AppEnv>, deps: ApiDeps): void {
  const auth = [requireAuth(deps.jwtSecret)];
  const security = [{ bearer: [] }];
  const unauthorized = json(errorSchema, "unauthorized");
  const query = <E extends Result["event"]>(
    c: Context<AppEnv>,
    event: E,
    page: Pick<QueryEntry, "scope" | "limit" | "cursor">,
  ) => queryEngine(c, deps, event, page);

  /** Money only: never the positions, whatever their number. */
  const accountState = (c: Context<AppEnv>): Promise<AccountState | Response> =>
    query(c, "account_state", { scope: "balance" });

  route(
    app,
    createRoute({
      method: "get",
      path: "/balance/usd",
      tags: ["account"],
      security,
      middleware: auth,
      responses: {
        200: json(z.object({ balance: z.number().int() }), "available cents"),
        401: unauthorized,
      },
    }),
    async (c) => {
      const account = await accountState(c);
      if (account instanceof Response) return account;
      return sendJson(c, 200, { balance: account.balance });
    },
  );

  route(
    app,
    createRoute({
      method: "get",
      path: "/balance",
      tags: ["account"],
      security,
      middleware: auth,
      responses: {
        200: json(
          balanceSchema,
          "cents: available, locked in positions, reserved by pending orders (margin and fee reserve), equity (their sum with unrealized PnL), and the margin level",
        ),
        401: unauthorized,
      },
    }),
    async (c) => {
      const account = await accountState(c);
      if (account instanceof Response) return account;
      const { balance, locked, pending, equity } = account;
      const marginLevel = marginLevelPercent(BigInt(equity), BigInt(locked));
      return sendJson(c, 200, {
        usd: { balance, locked, pending, equity, marginLevel, decimals: 2 },
      });
    },
  );

  route(
    app,
    createRoute({
      method: "post",
      path: "/balance/reset",
      tags: ["account"],
      security,
      middleware: auth,
      parameters: [idempotencyKeyParameter],
      responses: {
        200: json(resetResultSchema, "the balance is the starting credit again"),
        400: json(errorSchema, "invalid_request: a body other than none or {}"),
        401: unauthorized,
        409: json(errorSchema, "positions_open: an open position or a pending order"),
        422: json(errorSchema, "idempotency_key_reused"),
        429: json(errorSchema, "rate_limited"),
        504: json(timeoutSchema, "engine_timeout, with the Idempotency-Key to retry with"),
      },
    }),
    async (c) => {
      // No body, or an empty object: the call asks for nothing but itself.
      const text = (await c.req.text()).trim();
      if (text !== "" && text !== "{}" && !isEmptyObject(text)) {
        return apiError(c, 400, "invalid_request", "send no body, or {}");
      }
      const key = c.get("idempotencyKey");
      const entry: Omit<ResetEntry, "requestId"> = {
        kind: "reset",
        userId: c.get("userId"),
        idempotencyKey: key,
        fingerprint: requestFingerprint("reset", []),
      };
      const answer = await askEngine(
        c,
        () => deps.engine.request(entry, deps.engineTimeoutMs),
        key,
      );
      if (answer instanceof Response) return answer;
      if (!answer.ok) return refusal(c, answer);
      if (answer.result.event !== "reset") throw new Error("unexpected engine answer to reset");
      return sendJson(c, 200, { balance: answer.result.balance });
    },
  );

  route(
    app,
    createRoute({
      method: "get",
      path: "/trades/open",
      tags: ["trading"],
      security,
      middleware: auth,
      request: { query: openTradesQuerySchema },
      responses: {
        200: json(
          z.object({ trades: z.array(openTradeSchema), nextCursor: z.string().nullable() }),
          "open positions, oldest first, a page at a time",
        ),
        400: json(errorSchema, "invalid_request"),
        401: unauthorized,
      },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      if (limit !== undefined && Number(limit) > OPEN_PAGE_MAX) {
        return apiError(c, 400, "invalid_request", `limit must be 1–${OPEN_PAGE_MAX}`);
      }
      const page: OpenPositions | Response = await query(c, "open_positions", {
        scope: "open",
        limit: limit === undefined ? undefined : Number(limit),
        cursor,
      });
      if (page instanceof Response) return page;
      return sendJson(c, 200, { trades: page.positions, nextCursor: page.nextCursor });
    },
  );

  route(
    app,
    createRoute({
      method: "get",
      path: "/trades",
      tags: ["trading"],
      security,
      middleware: auth,
      request: { query: historyQuerySchema },
      responses: {
        200: json(
          z.object({ trades: z.array(historyTradeSchema), nextCursor: z.string().nullable() }),
          "closed trades, newest first",
        ),
        400: json(errorSchema, "invalid_request"),
        401: unauthorized,
      },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const limit = query.limit === undefined ? 50 : Number(query.limit);
      if (limit > 100) return apiError(c, 400, "invalid_request", "limit must be 1–100");
      const page = await deps.history.list(c.get("userId"), limit, query.cursor);
      if (page === "bad_cursor") return apiError(c, 400, "invalid_request", "cursor is not valid");
      return sendJson(c, 200, page);
    },
  );
}

function isEmptyObject(text: string): boolean {
  try {
    const value = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) &&
      Object.keys(value).length === 0;
  } catch {
    return false;
  }
}
