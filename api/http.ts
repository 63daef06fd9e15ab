/** Small HTTP helpers shared by the routes. */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { toApiJson } from "@trading/shared/schemas";
import type { Answer, QueryEntry } from "@trading/shared/schemas";
import { apiError, errorBody, REFUSAL_STATUS, refusalCode } from "./errors.ts";
import { EngineTimeoutError, EngineUnavailableError } from "./engine_client.ts";
import type { ApiDeps, AppEnv } from "./deps.ts";

/** What the engine answers when it did what was asked. */
export type Result = Extract<Answer, { ok: true }>["result"];

/** A JSON response whose cents fields are written exactly as numbers. */
export function sendJson(c: Context, status: ContentfulStatusCode, value: unknown): Response {
  return c.body(toApiJson(value), status, { "content-type": "application/json; charset=utf-8" });
}

/**
 * Asks the engine; turns a timeout into 504 and an unreachable Redis into 503. A keyed
 * request's 504 names its key, the one way to learn what happened without doing it twice.
 */
export async function askEngine(
  c: Context,
  ask: () => Promise<Answer>,
  idempotencyKey?: string,
): Promise<Answer | Response> {
  try {
    return await ask();
  } catch (error) {
    if (error instanceof EngineTimeoutError) {
      if (idempotencyKey === undefined) {
        return apiError(c, 504, "engine_timeout", "the engine did not answer in time; retry");
      }
      const message = "the engine did not answer in time; retry with the same Idempotency-Key";
      return c.json({ ...errorBody("engine_timeout", message), idempotencyKey }, 504);
    }
    if (error instanceof EngineUnavailableError) {
      return apiError(c, 503, "unavailable", "the trading engine is unreachable; retry shortly");
    }
    throw error;
  }
}

export function refusal(c: Context, answer: Extract<Answer, { ok: false }>): Response {
  return apiError(c, REFUSAL_STATUS[answer.code], refusalCode(answer.code), answer.message);
}

/** A read of the user's account as the engine holds it, in stream order: `event` or a Response. */
export async function queryEngine<E extends Result["event"]>(
  c: Context<AppEnv>,
  deps: ApiDeps,
  event: E,
  page: Pick<QueryEntry, "scope" | "limit" | "cursor">,
): Promise<Extract<Result, { event: E }> | Response> {
  const answer = await askEngine(
    c,
    () =>
      deps.engine.request(
        { kind: "query", userId: c.get("userId"), ...page },
        deps.engineTimeoutMs,
      ),
  );
  if (answer instanceof Response) return answer;
  if (!answer.ok) return refusal(c, answer);
  if (answer.result.event !== event) throw new Error("unexpected engine answer to query");
  return answer.result as Extract<Result, { event: E }>;
}
