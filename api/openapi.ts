/**
 * Registers a documented route whose handler returns plain Responses: our JSON is written by
 * `sendJson` (exact cents), which the typed-response helpers of zod-openapi cannot express.
 */
import type { OpenAPIHono, RouteConfig, RouteHandler, z } from "@hono/zod-openapi";
import type { AppEnv } from "./deps.ts";

type ContextOf<R extends RouteConfig> = Parameters<RouteHandler<R, AppEnv>>[0];

export function route<R extends RouteConfig>(
  app: OpenAPIHono<AppEnv>,
  config: R,
  handler: (c: ContextOf<R>) => Promise<Response> | Response,
): void {
  app.openapi(config, handler as unknown as RouteHandler<R, AppEnv>);
}

/** A JSON response (or body) entry of a route's documentation. */
export function jsonContent(schema: z.ZodType, description: string) {
  return { description, content: { "application/json": { schema } } };
}
