/** HTTP request and response schemas: validation and the OpenAPI document come from these. */
import { z } from "@hono/zod-openapi";
import { ASSET_SYMBOLS } from "@trading/shared/assets";
import { OPEN_PAGE_DEFAULT, OPEN_PAGE_MAX } from "@trading/shared/schemas";

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
  leverage: z.number().int().min(1).max(100),
  slippage: z.number().int().min(0).max(10_000).openapi({ description: "basis points" }),
  price: decimalText.optional().openapi({ description: "the quote the user saw" }),
  stopLoss: decimalText.optional(),
  takeProfit: decimalText.optional(),
}).openapi("TradeCreate");

const orderIdText = z.string().regex(/^[1-9][0-9]{0,15}$/, { message: "must be an order ID" });

export const tradeCloseSchema = z.strictObject({ orderId: orderIdText }).openapi("TradeClose");

export const openTradesQuerySchema = z.object({
  limit: z.string().regex(/^[1-9][0-9]{0,2}$/).optional().openapi({
    description: `1–${OPEN_PAGE_MAX}, default ${OPEN_PAGE_DEFAULT}`,
  }),
  cursor: orderIdText.optional().openapi({ description: "nextCursor of the previous page" }),
});

const IDEMPOTENCY_KEY_RE = /^[\x21-\x7e]{1,64}$/;
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

export const orderSchema = z.object({
  orderId: z.string(),
  asset: z.enum(ASSET_SYMBOLS),
  type: z.enum(["long", "short"]),
  margin: cents,
  leverage: z.number().int(),
  openPrice: z.string(),
  quantity: z.string(),
  liquidationPrice: z.string(),
  stopLoss: z.string().optional(),
  takeProfit: z.string().optional(),
  openedAt: z.number().int(),
}).openapi("Order");

export const openTradeSchema = orderSchema.extend({ unrealizedPnl: cents }).openapi("OpenTrade");

export const closeSchema = z.object({
  orderId: z.string(),
  closePrice: z.string(),
  pnl: cents,
  balance: cents,
  closedAt: z.number().int(),
  reason: z.literal("manual"),
}).openapi("CloseResult");

export const historyTradeSchema = z.object({
  orderId: z.string(),
  asset: z.string(),
  type: z.enum(["long", "short"]),
  margin: cents,
  leverage: z.number().int(),
  openPrice: z.string(),
  closePrice: z.string(),
  quantity: z.string(),
  pnl: cents,
  reason: z.enum(["manual", "stop_loss", "take_profit", "liquidation"]),
  openedAt: z.number().int(),
  closedAt: z.number().int(),
}).openapi("ClosedTrade");

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
