/**
 * CORS for the configured browser origins: a preflight is answered 204 (with the allow headers
 * only for an allowed origin), other requests get `Access-Control-Allow-Origin` when their
 * origin is allowed and `Vary: Origin` always. Hono's own cors middleware appends Vary with
 * `c.header` after the handler, which copies the whole finished Response on every request;
 * here the headers are set on the response in place.
 */
import type { MiddlewareHandler } from "hono";

export interface CorsOptions {
  origins: readonly string[];
  allowHeaders: readonly string[];
  allowMethods: readonly string[];
  /** Response headers a page's script may read (e.g. the key to retry with, Retry-After). */
  exposeHeaders: readonly string[];
  maxAgeS: number;
}

export function cors(options: CorsOptions): MiddlewareHandler {
  const allowed = new Set(options.origins);
  const preflightHeaders = {
    "access-control-allow-methods": options.allowMethods.join(","),
    "access-control-allow-headers": options.allowHeaders.join(","),
    "access-control-max-age": String(options.maxAgeS),
  };
  const exposed = options.exposeHeaders.join(",");
  return async (c, next) => {
    const origin = c.req.header("origin");
    const allow = origin !== undefined && allowed.has(origin);
    if (c.req.method === "OPTIONS") {
      const headers = new Headers({ vary: "Origin" });
      if (allow) {
        headers.set("access-control-allow-origin", origin);
        for (const [name, value] of Object.entries(preflightHeaders)) headers.set(name, value);
      }
      return new Response(null, { status: 204, headers });
    }
    await next();
    const headers = c.res.headers;
    headers.append("vary", "Origin");
    if (allow) {
      headers.set("access-control-allow-origin", origin);
      if (exposed !== "") headers.set("access-control-expose-headers", exposed);
    }
    return undefined;
  };
}
