/**
 * What the engine writes: answers (to the asking API's reply stream), order events (to the
 * output stream) and quotes (to the prices stream); shared/redis.ts names the streams. Each is
 * written as fields `kind`, `cause`, `requestId`, `userId`, `event`, `body` (JSON of the rest). Amounts are strings:
 * cents as signed integers ("-1234"), prices and quantities as exact decimals ("97000.5"), so
 * no reader ever goes through a float. `toApiJson` turns cents into JSON numbers exactly.
 */
import { z } from "zod";

export const REFUSAL_CODES = [
  "invalid_entry",
  "unknown_asset",
  "account_not_found",
  "no_price",
  "stale_price",
  "insufficient_balance",
  "slippage_exceeded",
  "invalid_trigger",
  "quantity_too_small",
  "order_not_found",
  "order_closed",
  "too_many_positions",
  "too_many_orders",
  "idempotency_key_reused",
  "order_not_pending",
  "invalid_quantity",
  "positions_open",
] as const;
export type RefusalCode = typeof REFUSAL_CODES[number];

export const CLOSE_REASONS = ["manual", "stop_loss", "take_profit", "liquidation"] as const;
export type CloseReason = typeof CLOSE_REASONS[number];

const cents = z.string().regex(/^-?(0|[1-9][0-9]{0,18})$/);
const decimal = z.string().regex(/^-?[0-9]{1,30}(\.[0-9]{1,30})?$/);
const timeMs = z.number().int().nonnegative();

export const orderViewSchema = z.object({
  orderId: z.string(),
  asset: z.string(),
  type: z.enum(["long", "short"]),
  margin: cents,
  leverage: z.number().int(),
  openPrice: decimal,
  quantity: decimal,
  liquidationPrice: decimal,
  /** The margin call's level; absent only in outputs written before margin calls existed. */
  warningPrice: decimal.optional(),
  stopLoss: decimal.optional(),
  takeProfit: decimal.optional(),
  openedAt: timeMs,
});
export type OrderView = z.infer<typeof orderViewSchema>;

/**
 * A close, full or partial: the position as it was just before it (the order view), what this
 * close took (`closedQuantity`, `releasedMargin`) and left (`remainingQuantity`: "0" for a full
 * close), at what price and with what PnL. `closeId` names the close: `<cause>-<orderId>`
 * (the input entry that closed it, and the order), unique because an entry closes a position
 * at most once. The four close fields are absent only in outputs written before partial closes
 * existed; the history gives those what the migration gave old rows (`tradeRow`).
 */
export const closeViewSchema = orderViewSchema.extend({
  closeId: z.string().optional(),
  closedQuantity: decimal.optional(),
  remainingQuantity: decimal.optional(),
  releasedMargin: cents.optional(),
  closePrice: decimal,
  /** Excludes the fee. */
  pnl: cents,
  /** The commission this close paid (out of its payout); absent before fees existed. */
  fee: cents.optional(),
  balance: cents,
  closedAt: timeMs,
  reason: z.enum(CLOSE_REASONS),
});
export type CloseView = z.infer<typeof closeViewSchema>;

export const openTradeSchema = orderViewSchema.extend({ unrealizedPnl: cents });
export type OpenTrade = z.infer<typeof openTradeSchema>;

/** A waiting limit or stop order. `margin` is reserved: out of the balance, into `pending`. */
export const pendingViewSchema = z.object({
  orderId: z.string(),
  status: z.literal("pending"),
  orderType: z.enum(["limit", "stop"]),
  asset: z.string(),
  type: z.enum(["long", "short"]),
  margin: cents,
  leverage: z.number().int(),
  triggerPrice: decimal,
  stopLoss: decimal.optional(),
  takeProfit: decimal.optional(),
  expiresAt: timeMs.optional(),
  createdAt: timeMs,
});
export type PendingView = z.infer<typeof pendingViewSchema>;

export const ENDED_STATUSES = ["filled", "cancelled", "expired"] as const;
export type EndedStatus = typeof ENDED_STATUSES[number];

/** A pending order that no longer waits, and why (`orders_history`). */
export const endedOrderViewSchema = pendingViewSchema.extend({
  status: z.enum(ENDED_STATUSES),
  endedAt: timeMs,
});
export type EndedOrderView = z.infer<typeof endedOrderViewSchema>;

const closedResultSchema = closeViewSchema.extend({ event: z.literal("closed") });
const partiallyClosedSchema = closeViewSchema.extend({
  event: z.literal("partially_closed"),
  /** What stays open: the same orderId, with its margin, quantity and liquidation price. */
  remaining: orderViewSchema,
});
/** A pending order's fill: the position it became (same orderId), and how it was placed. */
const filledSchema = orderViewSchema.extend({
  event: z.literal("filled"),
  orderType: z.enum(["limit", "stop"]),
  triggerPrice: decimal,
  /** The opening commission, out of the fee reserved at placement (the rest is returned). */
  fee: cents.optional(),
});
/** A market open (or a limit that filled at once): the position and its opening commission. */
const openedSchema = orderViewSchema.extend({ event: z.literal("opened"), fee: cents.optional() });
/**
 * A position's exit quote crossed its warning price (twice the maintenance margin): once per
 * crossing; it re-arms when a quote is back on the near side.
 */
const marginCallSchema = z.object({
  event: z.literal("margin_call"),
  orderId: z.string(),
  asset: z.string(),
  type: z.enum(["long", "short"]),
  liquidationPrice: decimal,
  warningPrice: decimal,
});
/** The account's demo money set back to the starting credit (no positions or orders held). */
const resetSchema = z.object({ event: z.literal("reset"), balance: cents });

/**
 * An account's money after a change, on every order event and on the answer it came from:
 * available, locked in positions, reserved by pending orders, and equity (their sum with the
 * open positions' unrealized PnL at the engine's quotes then).
 */
export const accountFiguresSchema = z.object({
  balance: cents,
  locked: cents,
  pending: cents,
  equity: cents,
});
export type AccountFigures = z.infer<typeof accountFiguresSchema>;
/**
 * A cancel by its owner ("user"), or by the engine when its fill would buy nothing
 * ("unfillable": quantity 0 at a gapped price); the margin is back in `balance`.
 */
const cancelledSchema = endedOrderViewSchema.extend({
  event: z.literal("cancelled"),
  reason: z.enum(["user", "unfillable"]),
  balance: cents,
});
const expiredSchema = endedOrderViewSchema.extend({ event: z.literal("expired"), balance: cents });
/** A modified position (its /trades/open view) or pending order: exactly one is present. */
const modifiedSchema = z.object({
  event: z.literal("modified"),
  orderId: z.string(),
  /** The order's side, as in every order event (a socket message names it `side`). */
  type: z.enum(["long", "short"]),
  position: openTradeSchema.optional(),
  order: pendingViewSchema.optional(),
});

export const resultSchema = z.discriminatedUnion("event", [
  z.object({ event: z.literal("account"), balance: cents, created: z.boolean() }),
  z.object({
    event: z.literal("account_state"),
    balance: cents,
    locked: cents,
    /** Margin reserved by pending orders. */
    pending: cents,
    equity: cents,
  }),
  z.object({
    event: z.literal("open_positions"),
    positions: z.array(openTradeSchema),
    /** The last order ID of this page when more follow, else null. */
    nextCursor: z.string().nullable(),
  }),
  z.object({
    event: z.literal("pending_orders"),
    orders: z.array(pendingViewSchema),
    nextCursor: z.string().nullable(),
  }),
  z.object({
    event: z.literal("orders_history"),
    /** Newest first; the cursor is the last order ID of this page when more follow. */
    orders: z.array(endedOrderViewSchema),
    nextCursor: z.string().nullable(),
  }),
  openedSchema,
  closedResultSchema,
  partiallyClosedSchema,
  pendingViewSchema.extend({ event: z.literal("placed") }),
  cancelledSchema,
  modifiedSchema,
  resetSchema,
  z.object({
    event: z.literal("closed_all"),
    /** Every close, in order ID order, all at the same quotes. */
    closed: z.array(closedResultSchema),
    balance: cents,
  }),
]);
export type Result = z.infer<typeof resultSchema>;

export const answerOkSchema = z.object({
  kind: z.literal("answer"),
  cause: z.string(),
  requestId: z.string(),
  userId: z.string(),
  /** The asking API process (its reply stream); routing only, not written in the entry. */
  replyTo: z.string().optional(),
  ok: z.literal(true),
  result: resultSchema,
  /** Set when an Idempotency-Key repeat returned the first answer unchanged. */
  replayed: z.literal(true).optional(),
  /** The account after a change (not on reads or replays): what its order events carry. */
  account: accountFiguresSchema.optional(),
});

export const answerRefusedSchema = z.object({
  kind: z.literal("answer"),
  cause: z.string(),
  requestId: z.string(),
  userId: z.string(),
  /** The asking API process (its reply stream); routing only, not written in the entry. */
  replyTo: z.string().optional(),
  ok: z.literal(false),
  code: z.enum(REFUSAL_CODES),
  message: z.string(),
  replayed: z.literal(true).optional(),
});

/**
 * An order event for the user's sockets and the history: a change the user asked for (the
 * answer went to the asking API; engine/io/routing.ts `orderEventsOf`), or one nobody asked
 * for: a stop-loss, take-profit or liquidation close, a pending order's fill or expiry, a
 * margin call.
 */
export const eventSchema = z.object({
  kind: z.literal("event"),
  cause: z.string(),
  userId: z.string(),
  result: z.discriminatedUnion("event", [
    openedSchema,
    closedResultSchema,
    partiallyClosedSchema,
    pendingViewSchema.extend({ event: z.literal("placed") }),
    filledSchema,
    cancelledSchema,
    expiredSchema,
    modifiedSchema,
    marginCallSchema,
    resetSchema,
  ]),
  /** The account's figures right after this event (absent in events written before them). */
  account: accountFiguresSchema.optional(),
});

/** The latest quote of an asset, forwarded for the gateway (one per asset per engine batch). */
export const priceOutputSchema = z.object({
  kind: z.literal("price"),
  cause: z.string(),
  asset: z.string(),
  bid: decimal,
  ask: decimal,
  ts: timeMs,
});

export const outputSchema = z.union([
  answerOkSchema,
  answerRefusedSchema,
  eventSchema,
  priceOutputSchema,
]);

export type AnswerOk = z.infer<typeof answerOkSchema>;
export type AnswerRefused = z.infer<typeof answerRefusedSchema>;
export type Answer = AnswerOk | AnswerRefused;
export type TriggerEvent = z.infer<typeof eventSchema>;
export type PriceOutput = z.infer<typeof priceOutputSchema>;
export type EngineOutput = z.infer<typeof outputSchema>;

const HEADER_FIELDS = new Set(["kind", "cause", "requestId", "userId", "replyTo"]);

/** The Redis fields of an output: routing fields stay flat so readers can filter cheaply. */
export function encodeOutput(output: EngineOutput): string[] {
  const body: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(output)) {
    if (!HEADER_FIELDS.has(name)) body[name] = value;
  }
  const record = output as Record<string, unknown>;
  return [
    "kind",
    output.kind,
    "cause",
    output.cause,
    "requestId",
    typeof record.requestId === "string" ? record.requestId : "",
    "userId",
    typeof record.userId === "string" ? record.userId : "",
    // What the result is ("opened", "closed", ...), so a reader that wants one kind of result
    // (the history writer: closes) skips the others without parsing their bodies.
    "event",
    eventOf(output),
    "body",
    JSON.stringify(body),
  ];
}

function eventOf(output: EngineOutput): string {
  if (output.kind === "event") return output.result.event;
  if (output.kind === "answer" && output.ok) return output.result.event;
  return "";
}

/** An output's routing fields, read without parsing its body (readers filter on these first). */
export function outputHeader(
  flat: readonly string[],
): { kind?: string; requestId?: string; userId?: string; event?: string } {
  const header: { kind?: string; requestId?: string; userId?: string; event?: string } = {};
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i];
    if (name === "kind" || name === "requestId" || name === "userId" || name === "event") {
      header[name] = flat[i + 1]!;
    }
  }
  return header;
}

/**
 * Validates an `engine:output` entry read back from Redis; undefined when malformed, or when
 * `wanted` says no. `wanted` sees the entry as parsed (its body's fields with the flat ones),
 * before any schema runs: a reader that keeps few outputs (the history, closes only) skips the
 * others for the cost of a JSON.parse.
 */
export function decodeOutput(
  flat: readonly string[],
  wanted?: (candidate: Readonly<Record<string, unknown>>) => boolean,
): EngineOutput | undefined {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
  let body: unknown;
  try {
    body = JSON.parse(fields.body ?? "");
  } catch {
    return undefined;
  }
  if (typeof body !== "object" || body === null) return undefined;
  const candidate: Record<string, unknown> = { ...body, kind: fields.kind, cause: fields.cause };
  // Present even when empty: a refusal of a malformed entry may name no user.
  if (fields.requestId !== undefined && fields.requestId !== "") {
    candidate.requestId = fields.requestId;
  }
  if (fields.userId !== undefined) candidate.userId = fields.userId;
  if (wanted !== undefined && !wanted(candidate)) return undefined;
  // The schema for its kind only: trying the whole union costs every reader on every entry.
  const schema = candidate.kind === "price"
    ? priceOutputSchema
    : candidate.kind === "event"
    ? eventSchema
    : candidate.ok === true
    ? answerOkSchema
    : answerRefusedSchema;
  const parsed = schema.safeParse(candidate);
  return parsed.success ? parsed.data : undefined;
}

/**
 * The fields that carry cents: strings in outputs, JSON integers in what HTTP and WebSocket
 * clients receive (`toApiJson` writes them; the API's response schemas say so from this list).
 */
export const CENTS_FIELD_NAMES = [
  "margin",
  "pnl",
  "balance",
  "locked",
  "pending",
  "equity",
  "unrealizedPnl",
  "releasedMargin",
  "fee",
] as const;
export type CentsField = typeof CENTS_FIELD_NAMES[number];
export const CENTS_FIELDS: ReadonlySet<string> = new Set(CENTS_FIELD_NAMES);

/**
 * Serializes a view for HTTP/WebSocket clients: cents fields become JSON numbers written from
 * their exact digits (JSON.rawJSON), never through a float.
 */
export function toApiJson(value: unknown): string {
  return JSON.stringify(value, (key, field) => {
    if (CENTS_FIELDS.has(key) && typeof field === "string" && /^-?\d{1,19}$/.test(field)) {
      return (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON(field);
    }
    return field;
  });
}
