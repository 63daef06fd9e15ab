/** Bearer-token authentication: sets `userId` or answers 401 `unauthorized`. */
import type { MiddlewareHandler } from "hono";
import { apiError } from "../errors.ts";
import type { AppEnv } from "../deps.ts";
import { verifyToken } from "@trading/shared/jwt";

export function requireAuth(secret: string): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(header);
    const userId = match ? await verifyToken(match[1]!, secret) : undefined;
    if (userId === undefined) {
      return apiError(c, 401, "unauthorized", "a valid Bearer token is required");
    }
    c.set("userId", userId);
    return await next();
  };
}
