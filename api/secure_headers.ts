/**
 * The security headers of every answer: those of Hono's `secureHeaders()` with its defaults
 * (the same names, values and order), worked out once, set on the finished response in place.
 * Hono's middleware rebuilt its list and deleted `X-Powered-By` (which nothing here sets) on
 * every request.
 */
import type { MiddlewareHandler } from "hono";

export const SECURITY_HEADERS: readonly (readonly [string, string])[] = [
  ["Cross-Origin-Resource-Policy", "same-origin"],
  ["Cross-Origin-Opener-Policy", "same-origin"],
  ["Origin-Agent-Cluster", "?1"],
  ["Referrer-Policy", "no-referrer"],
  ["Strict-Transport-Security", "max-age=15552000; includeSubDomains"],
  ["X-Content-Type-Options", "nosniff"],
  ["X-DNS-Prefetch-Control", "off"],
  ["X-Download-Options", "noopen"],
  ["X-Frame-Options", "SAMEORIGIN"],
  ["X-Permitted-Cross-Domain-Policies", "none"],
  ["X-XSS-Protection", "0"],
];

export function secureHeaders(): MiddlewareHandler {
  const names = SECURITY_HEADERS.map(([name]) => name);
  const values = SECURITY_HEADERS.map(([, value]) => value);
  return async (c, next) => {
    await next();
    const headers = c.res.headers;
    for (let i = 0; i < names.length; i++) headers.set(names[i]!, values[i]!);
  };
}
