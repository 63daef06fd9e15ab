/**
 * Backpack bookTicker frames → price entries of engine:input. Pure: parses exactly or refuses,
 * never rounds. A frame looks like
 * {"stream":"bookTicker.ETH_USDC_PERP","data":{"e":"bookTicker","E":1732579200000000,
 *  "s":"ETH_USDC_PERP","a":"3500.01","A":"1.2","b":"3500","B":"3.4","u":123,"T":1732579200000000}}
 */
import { z } from "zod";
import { type Asset, ASSETS } from "@trading/shared/assets";
import { DecimalError, parseDecimal } from "@trading/shared/money";
import { formatPriceValue, type InputFields } from "@trading/shared/schemas";

const decimalString = z.string().max(40);
const micros = z.union([z.number().int().nonnegative(), z.string().regex(/^\d{1,19}$/)]);

const frameSchema = z.object({
  stream: z.string().max(100),
  data: z.object({
    e: z.literal("bookTicker"),
    s: z.string().max(50),
    a: decimalString,
    b: decimalString,
    E: micros,
    A: decimalString.optional(),
    B: decimalString.optional(),
    T: micros.optional(),
    u: z.union([z.number(), z.string()]).optional(),
  }),
});

export type Normalized =
  | { kind: "quote"; market: string; fields: InputFields }
  /** Not a quote (a subscription answer, another stream): nothing to do. */
  | { kind: "ignored" }
  | { kind: "invalid"; reason: string };

/** `markets` maps a Backpack market (e.g. "BTC_USDC_PERP") to the asset it prices. */
export function normalizeFrame(text: string, markets: ReadonlyMap<string, Asset>): Normalized {
  if (text.length > 10_000) return { kind: "invalid", reason: "frame too large" };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { kind: "invalid", reason: "frame is not JSON" };
  }
  const isTicker = typeof json === "object" && json !== null &&
    typeof (json as { stream?: unknown }).stream === "string" &&
    (json as { stream: string }).stream.startsWith("bookTicker.");
  if (!isTicker) return { kind: "ignored" };
  const frame = frameSchema.safeParse(json);
  if (!frame.success) {
    return { kind: "invalid", reason: frame.error.issues[0]?.message ?? "bad frame" };
  }
  const { data, stream } = frame.data;
  if (stream !== `bookTicker.${data.s}`) {
    return { kind: "invalid", reason: `stream ${stream} does not match symbol ${data.s}` };
  }
  const asset = markets.get(data.s);
  if (asset === undefined) return { kind: "ignored" };
  const scale = ASSETS[asset].priceDecimals;
  try {
    const bid = parseDecimal(data.b, scale, { allowZero: false });
    const ask = parseDecimal(data.a, scale, { allowZero: false });
    if (bid > ask) {
      return { kind: "invalid", reason: `crossed book: bid ${data.b} > ask ${data.a}` };
    }
    return {
      kind: "quote",
      market: data.s,
      fields: { price: formatPriceValue(asset, bid, ask, BigInt(data.E)) },
    };
  } catch (error) {
    if (error instanceof DecimalError) return { kind: "invalid", reason: error.message };
    throw error;
  }
}
