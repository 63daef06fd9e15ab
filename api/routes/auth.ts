/**
 * POST /signup and /signin, each limited before any password work: signups per client IP;
 * signins per (email, IP) pair, per IP and, higher, per email (see `signinLimits`).
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { apiError } from "../errors.ts";
import type { ApiDeps, AppEnv } from "../deps.ts";
import { DUMMY_HASH } from "../auth/passwords.ts";
import { signToken } from "@trading/shared/jwt";
import { clientAddress, type TrustedProxies } from "@trading/shared/client_address";
import { DEFAULT_MAX_KEYS, retryAfterSeconds, TokenBuckets } from "../auth/rate_limit.ts";
import { credentialsSchema, errorSchema, signinSchema } from "../schemas.ts";
import { EngineUnavailableError } from "../engine_client.ts";
import { jsonContent, route } from "../openapi.ts";

const json = jsonContent;

/** The route with its per-IP limit as middleware: it runs before the body is even parsed. */
function signupRoute(limit: MiddlewareHandler<AppEnv>) {
  return createRoute({
    method: "post",
    path: "/signup",
    tags: ["auth"],
    middleware: [limit],
    request: {
      body: { required: true, content: { "application/json": { schema: credentialsSchema } } },
    },
    responses: {
      201: json(z.object({ userId: z.string() }), "account created with 500000 cents"),
      400: json(errorSchema, "invalid_request"),
      409: json(errorSchema, "email_taken"),
      429: json(errorSchema, "rate_limited (signups per client IP)"),
    },
  });
}

const signinRoute = createRoute({
  method: "post",
  path: "/signin",
  tags: ["auth"],
  request: { body: { required: true, content: { "application/json": { schema: signinSchema } } } },
  responses: {
    200: json(z.object({ token: z.string() }), "a JWT (HS256) for Authorization: Bearer"),
    400: json(errorSchema, "invalid_request"),
    401: json(errorSchema, "invalid_credentials"),
    429: json(errorSchema, "rate_limited"),
  },
});

/**
 * The key a client's limits count under: its address as the socket reports it or, when the
 * peer is one of `trusted` (TRUSTED_PROXIES), as X-Forwarded-For gives it (clientAddress; a
 * header from any other peer is ignored: a client could write it). An IPv6 client is keyed by
 * its /64, as one host is handed a whole /64 and would otherwise get 2^64 fresh limits.
 */
export function clientIp(c: Context, trusted: TrustedProxies = []): string {
  const info = (c.env as { remoteAddr?: { hostname?: string } } | undefined)?.remoteAddr;
  const address = clientAddress(info?.hostname, c.req.header("x-forwarded-for"), trusted) ??
    "local";
  if (!address.includes(":")) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  const [head = "", tail] = address.toLowerCase().split("::");
  const groups = head === "" ? [] : head.split(":");
  // "a:b::c" leaves out zero groups between the halves; only the first four matter here.
  if (tail !== undefined) groups.push(...Array(8).fill("0"));
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":")}::/64`;
}

/** 429 `rate_limited` with `Retry-After` in whole seconds. */
export function limited(c: Context, waitMs: number, what: string): Response {
  const seconds = retryAfterSeconds(waitMs);
  c.header("Retry-After", String(seconds));
  return apiError(c, 429, "rate_limited", `too many ${what}; retry in ${seconds} s`);
}

/**
 * Signin buckets, per minute: `perMinute` per (email, IP) pair, 5× that per IP, 10× that per
 * email. They are charged in that order and a refused attempt charges none after it, so one IP
 * adds at most `perMinute` attempts a minute to an email's bucket: wrong passwords from one
 * place (an attacker, or the owner's own typos) can never lock the owner out elsewhere; only
 * more than 10 IPs together could. The per-email bucket stays to cap a distributed guess at
 * one account (10 × perMinute a minute, each an argon2id hash).
 */
function signinLimits(perMinute: number, maxKeys: number) {
  const bucket = (n: number) => new TokenBuckets({ perSecond: n / 60, burst: n, maxKeys });
  return {
    byPair: bucket(perMinute),
    byIp: bucket(perMinute * 5),
    byEmail: bucket(perMinute * 10),
  };
}

export function authRoutes(app: OpenAPIHono<AppEnv>, deps: ApiDeps): void {
  const now = deps.nowMs ?? Date.now;
  const maxKeys = deps.limiterMaxKeys ?? DEFAULT_MAX_KEYS;
  const trusted = deps.trustedProxies ?? [];
  const { byPair, byIp, byEmail } = signinLimits(deps.signinLimitPerMinute ?? 10, maxKeys);
  const signupsPerMinute = deps.signupsPerMinute ?? 10;
  const signupsByIp = new TokenBuckets({
    perSecond: signupsPerMinute / 60,
    burst: signupsPerMinute,
    maxKeys,
  });
  // Every attempt counts, refused ones included (a 409 tells whether an email is registered).
  const limitSignups: MiddlewareHandler<AppEnv> = async (c, next) => {
    const waitMs = signupsByIp.take(clientIp(c, trusted), now());
    return waitMs === 0 ? await next() : limited(c, waitMs, "signups from this address");
  };

  route(app, signupRoute(limitSignups), async (c) => {
    const { email, password } = c.req.valid("json");
    const passwordHash = await deps.passwords.hash(password);
    try {
      const userId = await deps.users.create(email.toLowerCase(), passwordHash, (id) =>
        // In the same transaction: a user never exists without the engine's account entry.
        deps.engine.send({ kind: "create_account", requestId: `signup-${id}`, userId: id }));
      if (userId === undefined) {
        return apiError(c, 409, "email_taken", "this email is already registered");
      }
      return c.json({ userId }, 201);
    } catch (error) {
      if (error instanceof EngineUnavailableError) {
        return apiError(c, 503, "unavailable", "signup is unavailable; retry shortly");
      }
      throw error;
    }
  });

  route(app, signinRoute, async (c) => {
    const { email, password } = c.req.valid("json");
    const normalized = email.toLowerCase();
    const ip = clientIp(c, trusted);
    const nowMs = now();
    // Stops at the first refusal: see `signinLimits` for why the order matters.
    const waitMs = byIp.take(ip, nowMs) || byPair.take(`${ip} ${normalized}`, nowMs) ||
      byEmail.take(normalized, nowMs);
    if (waitMs > 0) return limited(c, waitMs, "signin attempts");
    const user = await deps.users.findByEmail(normalized);
    // The same work and the same answer for an unknown email and a wrong password.
    const ok = await deps.passwords.verify(user?.passwordHash ?? DUMMY_HASH, password);
    if (user === undefined || !ok) {
      return apiError(c, 401, "invalid_credentials", "wrong email or password");
    }
    return c.json({ token: await signToken(user.id, deps.jwtSecret, now()) }, 200);
  });
}
