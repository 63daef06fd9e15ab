/**
 * HTTP request and response schemas: validation and the OpenAPI document come from these. The
 * responses that carry the engine's views are built from its output schemas
 * (`@trading/shared/schemas`, and the closed-trade record beside its table in
 * `@trading/shared/db`), with cents as JSON integers (`httpView`); the patterns and ranges of
 * requests are the input's (`patterns.ts`).
 */
import { z } from "@hono/zod-openapi";
import { ASSET_SYMBOLS } from "@trading/shared/assets";
import { INTERVALS } from "@trading/shared/candles";
import { closedTradeSchema } from "@trading/shared/db";
import {
  CENTS_FIELDS,
  type CentsField,
  closeViewSchema,
  endedOrderViewSchema,
  EXPIRES_AT_MS,
  IDEMPOTENCY_KEY_RE,
  LEVERAGE,
  OPEN_PAGE_DEFAULT,
  OPEN_PAGE_MAX,
  openTradeSchema as openTradeViewSchema,
  ORDER_ID_RE,
  ORDER_TYPES,
  orderViewSchema,
  pendingViewSchema,
  SLIPPAGE_BPS,
} from "@trading/shared/schemas";

const decimalText = z.string().regex(/^\d{1,20}(\.\d{1,18})?$/, {
  message: 'must be a plain decimal string such as "97000.5"',
});
const cents = z.number().int();

export const errorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    issues: z.array(z.unknown()).optional(),
  }),
}).openapi("Error");

/** A 504 to a keyed request: the error and the key to retry with. */
export const timeoutSchema = errorSchema.extend({ idempotencyKey: z.string() })
  .openapi("EngineTimeout");

export const credentialsSchema = z.strictObject({
  email: z.email().max(254),
  password: z.string().min(8).max(128),
}).openapi("Credentials");

export const signinSchema = z.strictObject({
  email: z.string().min(1).max(254),
  password: z.string().min(1).max(128),
}).openapi("SigninRequest");

/**
 * A market order (the default) fills at once within `slippage` of `price` (or the API's quote);
 * a limit or stop order waits for `triggerPrice` (docs/design.md §2, Pending orders), so it
 * takes no slippage or price, and may expire at `expiresAt`.
 */
export const tradeCreateSchema = z.strictObject({
  asset: z.enum(ASSET_SYMBOLS),
  type: z.enum(["long", "short"]),
  margin: z.number().int().min(100).max(Number.MAX_SAFE_INTEGER)
    .openapi({ description: "cents", example: 10000 }),
  leverage: z.number().int().min(LEVERAGE.min).max(LEVERAGE.max),
  orderType: z.enum(ORDER_TYPES).optional().openapi({ description: "market (the default)" }),
  slippage: z.number().int().min(SLIPPAGE_BPS.min).max(SLIPPAGE_BPS.max).optional()
    .openapi({ description: "basis points; required for a market order, refused otherwise" }),
  price: decimalText.optional().openapi({
    description: "the quote the user saw (market orders only)",
  }),
  triggerPrice: decimalText.optional().openapi({
    description: "required for a limit or stop order, refused for a market order",
  }),
  expiresAt: z.number().int().min(EXPIRES_AT_MS.min).max(EXPIRES_AT_MS.max).optional()
    .openapi({ description: "ms since the epoch: a limit or stop order still waiting expires" }),
  stopLoss: decimalText.optional(),
  takeProfit: decimalText.optional(),
}).superRefine((body, context) => {
  const problem = (path: string, message: string) =>
    context.addIssue({ code: "custom", path: [path], message });
  if ((body.orderType ?? "market") === "market") {
    if (body.slippage === undefined) problem("slippage", "a market order needs slippage");
    if (body.triggerPrice !== undefined) problem("triggerPrice", "not for a market order");
    if (body.expiresAt !== undefined) problem("expiresAt", "not for a market order");
    return;
  }
  if (body.triggerPrice === undefined) {
    problem("triggerPrice", `a ${body.orderType} order needs triggerPrice`);
  }
  if (body.slippage !== undefined) problem("slippage", `not for a ${body.orderType} order`);
  if (body.price !== undefined) problem("price", `not for a ${body.orderType} order`);
}).openapi("TradeCreate");

const orderIdText = z.string().regex(ORDER_ID_RE, { message: "must be an order ID" });

export const tradeCloseSchema = z.strictObject({
  orderId: orderIdText,
  quantity: decimalText.optional().openapi({
    description: "the part to close (up to 8 decimals); absent: all of it",
  }),
}).openapi("TradeClose");

export const closeAllSchema = z.strictObject({ asset: z.enum(ASSET_SYMBOLS).optional() })
  .openapi("TradeCloseAll");

export const orderCancelSchema = z.strictObject({ orderId: orderIdText }).openapi("OrderCancel");

/** A level to set, or null to remove it. */
const levelChange = decimalText.nullable().optional().openapi({
  description: "a decimal to set, null to remove, absent to keep",
});

export const tradeModifySchema = z.strictObject({
  orderId: orderIdText,
  stopLoss: levelChange,
  takeProfit: levelChange,
}).refine((body) => body.stopLoss !== undefined || body.takeProfit !== undefined, {
  message: "give stopLoss or takeProfit (null removes it)",
}).openapi("TradeModify");

export const openTradesQuerySchema = z.object({
  limit: z.string().regex(/^[1-9][0-9]{0,2}$/).optional().openapi({
    description: `1–${OPEN_PAGE_MAX}, default ${OPEN_PAGE_DEFAULT}`,
  }),
  cursor: orderIdText.optional().openapi({ description: "nextCursor of the previous page" }),
});

export const IDEMPOTENCY_KEY_RULE = "Idempotency-Key must be 1–64 printable characters";

/**
 * The optional Idempotency-Key header of every call that changes an account (KEYED_PATHS), as
 * the OpenAPI document states it. The handlers check it themselves (`idempotencyKey`):
 * zod-openapi's header validator copies every request header into an object first, ~10 % of a
 * trade's cost in the API.
 */
export const idempotencyKeyParameter = {
  name: "idempotency-key",
  in: "header" as const,
  required: false,
  description:
    "a repeat of the same request with the same key returns the first answer (422 idempotency_key_reused for another request); without one the API makes a key, returned in the Idempotency-Key response header",
  schema: { type: "string" as const, pattern: IDEMPOTENCY_KEY_RE.source },
};

export function isIdempotencyKey(text: string): boolean {
  return IDEMPOTENCY_KEY_RE.test(text);
}

type Cents = typeof cents;

/**
 * An output schema as HTTP answers carry it: the same fields, with its cents fields (strings in
 * engine:output) as the JSON integers `toApiJson` writes them.
 */
function httpView<S extends z.ZodRawShape>(schema: z.ZodObject<S>) {
  const integers: Record<string, Cents> = {};
  for (const name of Object.keys(schema.shape)) if (CENTS_FIELDS.has(name)) integers[name] = cents;
  return schema.extend(integers as { [K in Extract<keyof S, CentsField>]: Cents });
}

/**
 * Opened and open positions are of the assets the API trades; a closed trade's record keeps
 * whatever asset it had (`z.string()`, as the output says).
 */
const asset = { asset: z.enum(ASSET_SYMBOLS) };

export const orderSchema = httpView(orderViewSchema).extend(asset).openapi("Order");

/** An order with its unrealized PnL: in the document, Order and that one field. */
export const openTradeSchema = orderSchema.extend({
  unrealizedPnl: httpView(openTradeViewSchema).shape.unrealizedPnl,
}).openapi("OpenTrade");

/**
 * The answer to a close, full or partial: the close's outcome, never another reason than the
 * user's own. `remainingQuantity` is "0" after a full close.
 */
export const closeSchema = httpView(
  closeViewSchema.pick({
    orderId: true,
    closePrice: true,
    pnl: true,
    balance: true,
    closedAt: true,
  }),
).extend({
  closedQuantity: z.string(),
  remainingQuantity: z.string(),
  fee: cents.openapi({ description: "the commission this close paid, cents (pnl excludes it)" }),
  reason: z.literal("manual"),
}).openapi("CloseResult");

export const closeAllResultSchema = z.object({
  closed: z.array(closeSchema),
  balance: cents,
}).openapi("CloseAllResult");

/** A waiting limit or stop order. */
export const pendingOrderSchema = httpView(pendingViewSchema).extend(asset).openapi(
  "PendingOrder",
);

/**
 * A modified position's answer: its /trades/open view, marked open as the pending view is
 * marked pending (the gateway's `modified` message says the same).
 */
export const modifiedPositionSchema = openTradeSchema.extend({ status: z.literal("open") })
  .openapi("ModifiedPosition");

/** A market order's answer (or a limit's that filled at once): the position, open. */
export const openedOrderSchema = orderSchema.extend({
  status: z.literal("open"),
  fee: cents.openapi({ description: "the opening commission, cents, out of the balance" }),
}).openapi("OpenedOrder");

/** `GET /balance`: money only, never positions. */
export const balanceSchema = z.object({
  usd: z.object({
    balance: cents,
    locked: cents,
    pending: cents,
    equity: cents,
    marginLevel: z.string().nullable().openapi({
      description:
        'equity ÷ locked as a percentage with 2 decimals ("1234.56"); null without open positions',
    }),
    decimals: z.literal(2),
  }),
}).openapi("Balance");

export const resetResultSchema = z.object({
  balance: cents.openapi({ description: "the starting credit, cents" }),
}).openapi("ResetResult");

export const cancelResultSchema = z.object({
  orderId: z.string(),
  status: z.literal("cancelled"),
  balance: cents,
}).openapi("CancelResult");

/** An ended pending order as `/orders/history` lists it. */
export const endedOrderSchema = httpView(
  endedOrderViewSchema.pick({
    orderId: true,
    orderType: true,
    asset: true,
    type: true,
    margin: true,
    leverage: true,
    triggerPrice: true,
    status: true,
    createdAt: true,
    endedAt: true,
  }),
).openapi("EndedOrder");

export const historyTradeSchema = httpView(closedTradeSchema).openapi("ClosedTrade");

export const historyQuerySchema = z.object({
  limit: z.string().regex(/^[1-9][0-9]{0,2}$/).optional().openapi({
    description: "1–100, default 50",
  }),
  cursor: z.string().max(200).optional(),
});

/** Ended pending orders: the engine remembers the latest 200 per account. */
export const ordersHistoryQuerySchema = z.object({
  limit: z.string().regex(/^[1-9][0-9]{0,2}$/).optional().openapi({
    description: "1–100, default 50",
  }),
  cursor: orderIdText.optional().openapi({ description: "nextCursor of the previous page" }),
});

export const CANDLES_DEFAULT = 500;
export const CANDLES_MAX = 1000;
/** `GET /candles`: every parameter checked, 400 `invalid_request` otherwise. */
export const candlesQuerySchema = z.object({
  asset: z.enum(ASSET_SYMBOLS),
  interval: z.enum(INTERVALS),
  limit: z.string().regex(/^[1-9][0-9]{0,3}$/).refine((text) => Number(text) <= CANDLES_MAX, {
    message: `limit is 1–${CANDLES_MAX}`,
  }).optional().openapi({ description: `1–${CANDLES_MAX}, default ${CANDLES_DEFAULT}` }),
  before: z.string().regex(/^[0-9]{1,15}$/).optional().openapi({
    description: "only candles starting before this time (ms since the epoch)",
  }),
});
export const candleSchema = z.object({
  t: z.number().int().openapi({ description: "the interval's start, ms since the epoch" }),
  o: z.string(),
  h: z.string(),
  l: z.string(),
  c: z.string(),
  n: z.number().int().openapi({ description: "quotes in it" }),
}).openapi("Candle");

export const priceSchema = z.object({
  asset: z.enum(ASSET_SYMBOLS),
  bid: z.string(),
  ask: z.string(),
  ts: z.number().int(),
}).openapi("Price");

export const assetSchema = z.object({
  symbol: z.enum(ASSET_SYMBOLS),
  name: z.string(),
  market: z.string(),
  priceDecimals: z.number().int(),
  imageUrl: z.string(),
}).openapi("Asset");
