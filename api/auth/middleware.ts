/**
 * Who is calling and how often they may. `authenticate` runs once for every request under the
 * base path and sets `userId` for a valid Bearer token; `limitUsers` then charges that user's
 * buckets; `requireAuth`, on each protected route, answers 401 `unauthorized` without one.
 */
import type { MiddlewareHandler } from "hono";
import { apiError } from "../errors.ts";
import type { AppEnv } from "../deps.ts";
import { verifyToken } from "@trading/shared/jwt";
import { retryAfterSeconds, type TokenBuckets } from "./rate_limit.ts";

/** The user of a valid Bearer token, or undefined (for any header, however malformed). */
async function bearerUser(header: string | undefined, secret: string): Promise<string | undefined> {
  const match = /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(header ?? "");
  return match ? await verifyToken(match[1]!, secret) : undefined;
}

/**
 * Sets `userId` when the request carries a valid token, and lets every request through: the
 * routes that need a user refuse with `requireAuth`, and unknown paths stay 404, not 401.
 */
export function authenticate(secret: string): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const userId = await bearerUser(c.req.header("authorization"), secret);
    if (userId !== undefined) c.set("userId", userId);
    return await next();
  };
}

export function requireAuth(secret: string): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    // Set only by `authenticate` from a verified token: no second check of the same token.
    const userId = (c.get("userId") as string | undefined) ??
      await bearerUser(c.req.header("authorization"), secret);
    if (userId === undefined) {
      return apiError(c, 401, "unauthorized", "a valid Bearer token is required");
    }
    c.set("userId", userId);
    return await next();
  };
}

/** The paths (under the base path) of calls that instruct the engine to change an account. */
export const TRADING_PATHS: readonly string[] = [
  "/trade/create",
  "/trade/close",
  "/trade/closeAll",
  "/trade/modify",
  "/order/cancel",
  "/balance/reset",
];

export interface UserLimits {
  /** Every authenticated call, per user. */
  calls: TokenBuckets;
  /** Trading calls (TRADING_PATHS), per user, charged after `calls`. */
  trades: TokenBuckets;
  /** Where the app is mounted ("/api/v1"): `c.req.path` is the full path. */
  basePath: string;
  nowMs: () => number;
}

/**
 * 429 `rate_limited` with `Retry-After` for a user over a limit, before the body is read or
 * the engine asked. Runs after `authenticate`; requests without a user pass untouched. Paths
 * are matched as the router sees them (decoded, case-sensitive, strict), so a trading route
 * added later is limited as soon as it exists, whatever its method.
 */
export function limitUsers(limits: UserLimits): MiddlewareHandler<AppEnv> {
  const tradingPaths = new Set(TRADING_PATHS.map((path) => limits.basePath + path));
  return async (c, next) => {
    const userId = c.get("userId") as string | undefined;
    if (userId === undefined) return await next();
    const now = limits.nowMs();
    // In this order, so a call refused by the first limit is not charged to the second.
    let waitMs = limits.calls.take(userId, now);
    let what = "calls";
    if (waitMs === 0 && tradingPaths.has(c.req.path)) {
      waitMs = limits.trades.take(userId, now);
      what = "trading calls";
    }
    if (waitMs === 0) return await next();
    const seconds = retryAfterSeconds(waitMs);
    c.header("Retry-After", String(seconds));
    return apiError(c, 429, "rate_limited", `too many ${what}; retry in ${seconds} s`);
  };
}
