/**
 * Idempotency on the API's side: every call that changes an account (create, close, closeAll,
 * modify, cancel, reset) carries a key (the client's, or one made here), and a fingerprint of what was
 * asked, so the engine can tell a retry of the same request from another request that reuses
 * its key.
 */
import { createHash } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./deps.ts";
import { apiError } from "./errors.ts";
import { IDEMPOTENCY_KEY_RULE, isIdempotencyKey } from "./schemas.ts";

/** The endpoints whose requests carry a key: every one that changes an account. */
export const KEYED_PATHS = [
  "/trade/create",
  "/trade/close",
  "/trade/closeAll",
  "/trade/modify",
  "/order/cancel",
  "/balance/reset",
] as const;

/**
 * Middleware of the keyed endpoints, before any other: the request's Idempotency-Key, or a new
 * one when it sent none, goes on the response's `Idempotency-Key` header whatever the answer
 * (so a client can retry whatever it gets back) and into `idempotencyKey`; a malformed one is
 * a 400.
 */
export const keyRequest: MiddlewareHandler<AppEnv> = async (c, next) => {
  const given = c.req.header("idempotency-key");
  if (given !== undefined && !isIdempotencyKey(given)) {
    return apiError(c, 400, "invalid_request", `idempotency-key: ${IDEMPOTENCY_KEY_RULE}`, [
      { path: "idempotency-key", message: IDEMPOTENCY_KEY_RULE },
    ]);
  }
  const key = given ?? `api-${crypto.randomUUID()}`;
  c.header("Idempotency-Key", key);
  c.set("idempotencyKey", key);
  return await next();
};

/**
 * 22 base64url characters (128 bits of SHA-256) of the endpoint and the fields in a fixed
 * order; absent optional fields are null, so `{}` and `{price: undefined}` agree.
 */
export function requestFingerprint(endpoint: string, fields: readonly unknown[]): string {
  const canonical = JSON.stringify([endpoint, ...fields.map((field) => field ?? null)]);
  return createHash("sha256").update(canonical).digest("base64url").slice(0, 22);
}
