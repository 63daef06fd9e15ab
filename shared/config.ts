/**
 * Process configuration from the environment, validated once with zod. Defaults are those of
 * API.md. `parseConfig` is pure (takes the environment as a map) so tests need no real env.
 */
import { z } from "zod";
import { type Asset, ASSET_SYMBOLS, ASSETS, isAsset } from "./assets.ts";

const port = z.coerce.number().int().min(0).max(65_535);
const positiveMs = z.coerce.number().int().min(1).max(86_400_000);
const flag = z.enum(["0", "1", "true", "false", ""]).transform((v) => v === "1" || v === "true");

const envSchema = z.object({
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  API_PORT: port.default(3000),
  GATEWAY_PORT: port.default(3001),
  SIM_PORT: port.default(3002),
  ENGINE_METRICS_PORT: port.default(3003),
  POLLER_METRICS_PORT: port.default(3004),
  JWT_SECRET: z.string().optional(),
  DEV: flag.default(false),
  FEED: z.enum(["backpack", "sim"]).default("backpack"),
  BACKPACK_WS_URL: z.url({ protocol: /^wss?$/ }).default("wss://ws.backpack.exchange"),
  SNAPSHOT_INTERVAL_MS: positiveMs.default(10_000),
  PRICE_MAX_AGE_MS: positiveMs.default(5_000),
  /** How long the API waits for the engine's answer before 504. */
  ENGINE_TIMEOUT_MS: positiveMs.default(5_000),
  // Must stay below 1/maxLeverage (100 bps) so a new position always starts above maintenance.
  MMR_BPS: z.coerce.number().int().min(1).max(99).default(50),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  /** Comma-separated origins allowed to call the API from a browser. */
  CORS_ORIGINS: z.string().max(2000).optional(),
  /** The API's base URL as browsers reach it, for the gateway's web page. */
  PUBLIC_API_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** "BTC:BTC_USDC_PERP,ETH:ETH_USDC_PERP,…": which Backpack market prices each asset. */
  MARKETS: z.string().regex(/^[A-Z]+:[A-Z0-9_]+(,[A-Z]+:[A-Z0-9_]+)*$/).optional(),
});

export type Config = {
  redisUrl: string | undefined;
  databaseUrl: string | undefined;
  apiPort: number;
  gatewayPort: number;
  simPort: number;
  /** The engine and the poller serve /metrics on these; the API and gateway on their own ports. */
  engineMetricsPort: number;
  pollerMetricsPort: number;
  jwtSecret: string;
  dev: boolean;
  feed: "backpack" | "sim";
  backpackWsUrl: string;
  snapshotIntervalMs: number;
  priceMaxAgeMs: number;
  engineTimeoutMs: number;
  mmrBps: number;
  logLevel: "debug" | "info" | "warn" | "error";
  /** Backpack market → the asset it prices. */
  markets: Map<string, Asset>;
  /** Browser origins allowed by CORS; by default the gateway's web page on localhost. */
  corsOrigins: string[];
  publicApiUrl: string | undefined;
};

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** A fixed secret for DEV=1 only; refused otherwise by the length/presence checks below. */
const DEV_JWT_SECRET = "dev-only-secret-do-not-use-in-production-0123456789";

export function parseConfig(env: Record<string, string | undefined>): Config {
  // An empty variable means "unset", as it does in most shells' `VAR= cmd`.
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ""),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    throw new ConfigError(`invalid configuration: ${lines.join("; ")}`);
  }
  const e = parsed.data;
  let jwtSecret = e.JWT_SECRET;
  if (jwtSecret === undefined) {
    if (!e.DEV) throw new ConfigError("JWT_SECRET is required (or set DEV=1 for a local demo)");
    jwtSecret = DEV_JWT_SECRET;
  } else if (new TextEncoder().encode(jwtSecret).length < 32 && !e.DEV) {
    throw new ConfigError("JWT_SECRET must be at least 32 bytes");
  }
  return {
    redisUrl: e.REDIS_URL,
    databaseUrl: e.DATABASE_URL,
    apiPort: e.API_PORT,
    gatewayPort: e.GATEWAY_PORT,
    simPort: e.SIM_PORT,
    engineMetricsPort: e.ENGINE_METRICS_PORT,
    pollerMetricsPort: e.POLLER_METRICS_PORT,
    jwtSecret,
    dev: e.DEV,
    feed: e.FEED,
    backpackWsUrl: e.BACKPACK_WS_URL,
    snapshotIntervalMs: e.SNAPSHOT_INTERVAL_MS,
    priceMaxAgeMs: e.PRICE_MAX_AGE_MS,
    engineTimeoutMs: e.ENGINE_TIMEOUT_MS,
    mmrBps: e.MMR_BPS,
    logLevel: e.LOG_LEVEL,
    markets: parseMarkets(e.MARKETS),
    corsOrigins: e.CORS_ORIGINS === undefined
      ? [`http://localhost:${e.GATEWAY_PORT}`, `http://127.0.0.1:${e.GATEWAY_PORT}`]
      : e.CORS_ORIGINS.split(",").map((o) => o.trim()).filter((o) => o !== ""),
    publicApiUrl: e.PUBLIC_API_URL?.replace(/\/+$/, ""),
  };
}

function parseMarkets(text: string | undefined): Map<string, Asset> {
  if (text === undefined) return new Map(ASSET_SYMBOLS.map((a) => [ASSETS[a].market, a]));
  const markets = new Map<string, Asset>();
  for (const pair of text.split(",")) {
    const [asset, market] = pair.split(":") as [string, string];
    if (!isAsset(asset)) throw new ConfigError(`MARKETS: unknown asset ${asset}`);
    markets.set(market, asset);
  }
  return markets;
}

let cached: Config | undefined;

/** The process's configuration, read from the environment on first use. */
export function loadConfig(): Config {
  cached ??= parseConfig(Deno.env.toObject());
  return cached;
}
