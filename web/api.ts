/** The page's HTTP client for the API: JSON in and out, cents kept exact, errors in words. */

/** Fields the API writes as integer cents (JSON numbers), read here as exact bigints. */
const CENTS_FIELDS = new Set([
  "margin",
  "pnl",
  "unrealizedPnl",
  "balance",
  "locked",
  "pending",
  "equity",
  "releasedMargin",
  "fee",
]);

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** Plain words for the API's error codes; the API's own message follows them. */
const WORDS: Record<string, string> = {
  invalid_request: "That request was not valid",
  unauthorized: "Please sign in again",
  invalid_credentials: "Wrong email or password",
  email_taken: "That email is already registered",
  rate_limited: "Too many attempts",
  insufficient_balance: "Not enough available balance",
  slippage_exceeded: "The price moved past your slippage",
  no_price: "No price for this asset yet",
  stale_price: "The price feed is stale",
  invalid_trigger: "A stop-loss, take-profit or trigger price is on the wrong side of the price",
  quantity_too_small: "The position would be too small",
  invalid_quantity: "That quantity cannot be closed",
  too_many_positions: "Too many open positions and pending orders",
  too_many_orders: "Too many pending orders",
  order_not_found: "No such open order",
  order_closed: "That order is already closed",
  order_not_pending: "That order is no longer pending",
  idempotency_key_reused: "That request was already sent with other values",
  engine_timeout: "The engine did not answer in time",
  unavailable: "The service is unavailable right now",
  positions_open: "The demo money cannot be reset while positions or orders are open",
};

export function inWords(error: unknown): string {
  if (error instanceof ApiError) {
    const lead = WORDS[error.code] ?? `Error ${error.status}`;
    return `${lead}: ${error.message}`;
  }
  if (error instanceof TypeError) return "Cannot reach the API; is it running?";
  return String(error instanceof Error ? error.message : error);
}

/** JSON.parse with cents fields as bigint, from their source text where the browser gives it. */
export function parseJson(text: string): unknown {
  return JSON.parse(text, function (key, value, context?: { source?: string }) {
    if (typeof value === "number" && CENTS_FIELDS.has(key)) {
      return BigInt(context?.source ?? String(value));
    }
    return value;
  });
}

export class Api {
  token: string | undefined;

  constructor(readonly base: string) {}

  async call<T>(method: string, path: string, body?: string): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const response = await fetch(this.base + path, { method, headers, body });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = parseJson(text);
    } catch {
      throw new ApiError(response.status, "bad_response", text.slice(0, 200));
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string } }).error;
      throw new ApiError(
        response.status,
        error?.code ?? "error",
        error?.message ?? response.statusText,
      );
    }
    return parsed as T;
  }
}
