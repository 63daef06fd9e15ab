/** GET /balance, /balance/usd, /trades/open (engine queries) and /trades (history). */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { OPEN_PAGE_MAX, type QueryEntry } from "@trading/shared/schemas";
import { apiError } from "../errors.ts";
import type { ApiDeps, AppEnv } from "../deps.ts";
import { requireAuth } from "../auth/middleware.ts";
import { queryEngine, type Result, sendJson } from "../http.ts";
import { jsonContent, route } from "../openapi.ts";
import {
  errorSchema,
  historyQuerySchema,
  historyTradeSchema,
  openTradeSchema,
  openTradesQuerySchema,
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
          z.object({
            usd: z.object({
              balance: z.number().int(),
              locked: z.number().int(),
              pending: z.number().int(),
              equity: z.number().int(),
              decimals: z.literal(2),
            }),
          }),
          "cents: available, locked in positions, reserved by pending orders, and equity (their sum with unrealized PnL)",
        ),
        401: unauthorized,
      },
    }),
    async (c) => {
      const account = await accountState(c);
      if (account instanceof Response) return account;
      const { balance, locked, pending, equity } = account;
      return sendJson(c, 200, { usd: { balance, locked, pending, equity, decimals: 2 } });
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
