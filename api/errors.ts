/** The one error shape (README, HTTP API) and the HTTP status of each engine refusal. */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { RefusalCode } from "@trading/shared/schemas";

export interface ErrorBody {
  error: { code: string; message: string; issues?: unknown[] };
}

export function errorBody(code: string, message: string, issues?: unknown[]): ErrorBody {
  return { error: issues === undefined ? { code, message } : { code, message, issues } };
}

export function apiError(
  c: Context,
  status: ContentfulStatusCode,
  code: string,
  message: string,
  issues?: unknown[],
): Response {
  return c.json(errorBody(code, message, issues), status);
}

export const REFUSAL_STATUS: Record<RefusalCode, ContentfulStatusCode> = {
  invalid_entry: 400,
  unknown_asset: 400,
  account_not_found: 404,
  no_price: 422,
  stale_price: 422,
  insufficient_balance: 422,
  slippage_exceeded: 422,
  invalid_trigger: 422,
  quantity_too_small: 422,
  order_not_found: 404,
  order_closed: 409,
  too_many_positions: 422,
  too_many_orders: 422,
  idempotency_key_reused: 422,
  order_not_pending: 409,
  invalid_quantity: 422,
  positions_open: 409,
};

/** A refusal's public code: malformed instructions surface as `invalid_request`. */
export function refusalCode(code: RefusalCode): string {
  return code === "invalid_entry" ? "invalid_request" : code;
}
