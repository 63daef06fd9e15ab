/**
 * HTTP request and response schemas: validation and the OpenAPI document come from these. The
 * responses that carry the engine's views are built from its output schemas
 * (`@trading/shared/schemas`, and the closed-trade record beside its table in
 * `@trading/shared/db`), with cents as JSON integers (`httpView`); the patterns and ranges of
 * requests are the input's (`patterns.ts`).
 */
import { z } from "@hono/zod-openapi";
import { ASSET_SYMBOLS } from "@trading/shared/assets";
import { closedTradeSchema } from "@trading/shared/db";
import {
  CENTS_FIELDS,
  type CentsField,
  closeViewSchema,
  IDEMPOTENCY_KEY_RE,
  LEVERAGE,
  OPEN_PAGE_DEFAULT,
  OPEN_PAGE_MAX,
  openTradeSchema as openTradeViewSchema,
  ORDER_ID_RE,
  orderViewSchema,
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

export const tradeCreateSchema = z.strictObject({
  asset: z.enum(ASSET_SYMBOLS),
  type: z.enum(["long", "short"]),
  margin: z.number().int().min(100).max(Number.MAX_SAFE_INTEGER)
    .openapi({ description: "cents", example: 10000 }),
  leverage: z.number().int().min(LEVERAGE.min).max(LEVERAGE.max),
  slippage: z.number().int().min(SLIPPAGE_BPS.min).max(SLIPPAGE_BPS.max)
    .openapi({ description: "basis points" }),
  price: decimalText.optional().openapi({ description: "the quote the user saw" }),
  stopLoss: decimalText.optional(),
  takeProfit: decimalText.optional(),
}).openapi("TradeCreate");

const orderIdText = z.string().regex(ORDER_ID_RE, { message: "must be an order ID" });

export const tradeCloseSchema = z.strictObject({ orderId: orderIdText }).openapi("TradeClose");

export const openTradesQuerySchema = z.object({
  limit: z.string().regex(/^[1-9][0-9]{0,2}$/).optional().openapi({
    description: `1–${OPEN_PAGE_MAX}, default ${OPEN_PAGE_DEFAULT}`,
  }),
  cursor: orderIdText.optional().openapi({ description: "nextCursor of the previous page" }),
});

export const IDEMPOTENCY_KEY_RULE = "Idempotency-Key must be 1–64 printable characters";

/**
 * The optional Idempotency-Key header of trade/create and trade/close, as the OpenAPI document
 * states it. The handlers check it themselves (`idempotencyKey`): zod-openapi's header
 * validator copies every request header into an object first, ~10 % of a trade's cost in the
 * API.
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

/** The answer to a close: the close's outcome, never another reason than the user's own. */
export const closeSchema = httpView(
  closeViewSchema.pick({
    orderId: true,
    closePrice: true,
    pnl: true,
    balance: true,
    closedAt: true,
  }),
).extend({ reason: z.literal("manual") }).openapi("CloseResult");

export const historyTradeSchema = httpView(closedTradeSchema).openapi("ClosedTrade");

export const historyQuerySchema = z.object({
  limit: z.string().regex(/^[1-9][0-9]{0,2}$/).optional().openapi({
    description: "1–100, default 50",
  }),
  cursor: z.string().max(200).optional(),
});

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
