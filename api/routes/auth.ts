/** POST /signup and /signin. */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { apiError } from "../errors.ts";
import type { ApiDeps, AppEnv } from "../deps.ts";
import { DUMMY_HASH } from "../auth/passwords.ts";
import { signToken } from "@trading/shared/jwt";
import { RateLimiter } from "../auth/rate_limit.ts";
import { credentialsSchema, errorSchema, signinSchema } from "../schemas.ts";
import { EngineUnavailableError } from "../engine_client.ts";
import { jsonContent, route } from "../openapi.ts";

const json = jsonContent;

const signupRoute = createRoute({
  method: "post",
  path: "/signup",
  tags: ["auth"],
  request: {
    body: { required: true, content: { "application/json": { schema: credentialsSchema } } },
  },
  responses: {
    201: json(z.object({ userId: z.string() }), "account created with 500000 cents"),
    400: json(errorSchema, "invalid_request"),
    409: json(errorSchema, "email_taken"),
  },
});

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

function clientIp(c: Context): string {
  const info = (c.env as { remoteAddr?: { hostname?: string } } | undefined)?.remoteAddr;
  return info?.hostname ?? "local";
}

export function authRoutes(app: OpenAPIHono<AppEnv>, deps: ApiDeps): void {
  const now = deps.nowMs ?? Date.now;
  const perMinute = deps.signinLimitPerMinute ?? 10;
  const byIp = new RateLimiter(perMinute * 5, 60_000);
  const byEmail = new RateLimiter(perMinute, 60_000);

  route(app, signupRoute, async (c) => {
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
    const wait = Math.max(byIp.hit(clientIp(c), now()), byEmail.hit(normalized, now()));
    if (wait > 0) {
      c.header("Retry-After", String(wait));
      return apiError(c, 429, "rate_limited", `too many attempts; retry in ${wait} s`);
    }
    const user = await deps.users.findByEmail(normalized);
    // The same work and the same answer for an unknown email and a wrong password.
    const ok = await deps.passwords.verify(user?.passwordHash ?? DUMMY_HASH, password);
    if (user === undefined || !ok) {
      return apiError(c, 401, "invalid_credentials", "wrong email or password");
    }
    return c.json({ token: await signToken(user.id, deps.jwtSecret, now()) }, 200);
  });
}
