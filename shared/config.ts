/**
 * Process configuration from the environment, validated once with zod. Defaults are those of
 * the README's Configuration table. `parseConfig` is pure (takes the environment as a map) so tests need no real env.
 */
import { z } from "zod";
import { type Asset, ASSET_SYMBOLS, ASSETS, isAsset } from "./assets.ts";
import { parseTrustedProxies, type TrustedProxies } from "./client_address.ts";

const port = z.coerce.number().int().min(0).max(65_535);
const positiveMs = z.coerce.number().int().min(1).max(86_400_000);
const count = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
/** An IPv4/IPv6 address or a host name to bind to. */
const host = z.string().regex(/^[A-Za-z0-9.:_-]{1,253}$/, { message: "must be a host or address" });

const envSchema = z.object({
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
  /** "host:port,host:port,…": use Redis Cluster through these seed nodes instead of REDIS_URL. */
  REDIS_CLUSTER_NODES: z.string().regex(
    /^[A-Za-z0-9._-]{1,253}:[0-9]{1,5}(,[A-Za-z0-9._-]{1,253}:[0-9]{1,5})*$/,
    {
      message: "must be host:port[,host:port…]",
    },
  ).optional(),
  /** This API process's name: where the engine writes its answers. Made at start when unset. */
  API_ID: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, { message: "must be 1–40 of A-Z a-z 0-9 _ -" })
    .optional(),
  /** How long a reply stream lives after the engine last wrote to it (its process went away). */
  REPLY_TTL_MS: positiveMs.default(300_000),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  API_PORT: port.default(3000),
  GATEWAY_PORT: port.default(3001),
  SIM_PORT: port.default(3002),
  ENGINE_METRICS_PORT: port.default(3003),
  POLLER_METRICS_PORT: port.default(3004),
  API_METRICS_PORT: port.default(3005),
  GATEWAY_METRICS_PORT: port.default(3006),
  /** Where the API, the gateway and the simulator listen (the demo sets 127.0.0.1). */
  BIND_HOST: host.default("0.0.0.0"),
  /** Where every /metrics listens: private by default. */
  METRICS_HOST: host.default("127.0.0.1"),
  JWT_SECRET: z.string().optional(),
  FEED: z.enum(["backpack", "sim"]).default("backpack"),
  BACKPACK_WS_URL: z.url({ protocol: /^wss?$/ }).default("wss://ws.backpack.exchange"),
  SNAPSHOT_INTERVAL_MS: positiveMs.default(10_000),
  PRICE_MAX_AGE_MS: positiveMs.default(5_000),
  /** How long the API waits for the engine's answer before 504. */
  ENGINE_TIMEOUT_MS: positiveMs.default(5_000),
  // Must stay below 1/maxLeverage (100 bps) so a new position always starts above maintenance.
  MMR_BPS: z.coerce.number().int().min(1).max(99).default(50),
  /** Commission in basis points of the notional at each open, fill and close (`feeCents`, shared/position_math.ts). */
  FEE_BPS: z.coerce.number().int().min(0).max(1000).default(0),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  /** Comma-separated origins allowed to call the API from a browser. */
  CORS_ORIGINS: z.string().max(2000).optional(),
  /** The API's base URL as browsers reach it, for the gateway's web page. */
  PUBLIC_API_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** "BTC:BTC_USDC_PERP,ETH:ETH_USDC_PERP,…": which Backpack market prices each asset. */
  MARKETS: z.string().regex(/^[A-Z]+:[A-Z0-9_]+(,[A-Z]+:[A-Z0-9_]+)*$/).optional(),
  /** Per account, in the engine: open positions and pending orders at most. */
  MAX_OPEN_POSITIONS: count(1, 10_000).default(200),
  MAX_PENDING_ORDERS: count(1, 10_000).default(50),
  /** Per user: trading calls a second (bursts of twice as many, unless *_BURST says). */
  TRADE_RATE: count(1, 100_000).default(20),
  TRADE_BURST: count(1, 1_000_000).optional(),
  /** Per user: all authenticated calls a second (bursts of twice as many). */
  USER_RATE: count(1, 100_000).default(100),
  USER_BURST: count(1, 1_000_000).optional(),
  /** Per client IP: signups a minute. */
  SIGNUP_RATE: count(1, 100_000).default(10),
  /** Days of 1-minute candles kept in Postgres; a larger interval keeps as many candles. */
  CANDLE_RETENTION_DAYS: count(1, 3650).default(30),
  /** WebSocket sockets open at once, per client IP and in all. */
  WS_MAX_PER_IP: count(1, 1_000_000).default(50),
  WS_MAX: count(1, 10_000_000).default(20_000),
  /**
   * "10.0.0.1,10.1.0.0/16,fd00::/8": peers whose X-Forwarded-For names the client (see
   * client_address.ts). Unset: nobody's, and the per-address limits count the peer's address.
   */
  TRUSTED_PROXIES: z.string().max(10_000).transform((text, ctx) => {
    try {
      return parseTrustedProxies(text);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: (error as Error).message, input: text });
      return z.NEVER;
    }
  }).optional(),
});

export type Config = {
  redisUrl: string | undefined;
  /** Seed nodes of a Redis Cluster; when set, every connection is a cluster client. */
  redisClusterNodes: Array<{ host: string; port: number }> | undefined;
  apiId: string | undefined;
  replyTtlMs: number;
  databaseUrl: string | undefined;
  apiPort: number;
  gatewayPort: number;
  simPort: number;
  /** The engine and the poller serve /metrics on these; the API and gateway on their own ports. */
  engineMetricsPort: number;
  pollerMetricsPort: number;
  apiMetricsPort: number;
  gatewayMetricsPort: number;
  bindHost: string;
  metricsHost: string;
  /** Required by the processes that sign or verify tokens (`startProcess` checks). */
  jwtSecret: string | undefined;
  feed: "backpack" | "sim";
  backpackWsUrl: string;
  snapshotIntervalMs: number;
  priceMaxAgeMs: number;
  engineTimeoutMs: number;
  mmrBps: number;
  feeBps: number;
  logLevel: "debug" | "info" | "warn" | "error";
  /** Backpack market → the asset it prices. */
  markets: Map<string, Asset>;
  /** Browser origins allowed by CORS; by default the gateway's web page on localhost. */
  corsOrigins: string[];
  publicApiUrl: string | undefined;
  maxOpenPositions: number;
  maxPendingOrders: number;
  /** Token buckets: refill per second and capacity. */
  tradeRate: { perSecond: number; burst: number };
  userRate: { perSecond: number; burst: number };
  signupsPerMinute: number;
  /** Days of 1-minute candles kept (docs/design.md §8). */
  candleRetentionDays: number;
  wsMaxPerIp: number;
  wsMax: number;
  /** Proxies whose X-Forwarded-For gives the client's address; none by default. */
  trustedProxies: TrustedProxies;
};

export class ConfigError extends Error {
  override name = "ConfigError";
}

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
  // No built-in secret exists: `deno task demo` makes a random one per DATA_DIR.
  const jwtSecret = e.JWT_SECRET;
  if (jwtSecret !== undefined && new TextEncoder().encode(jwtSecret).length < 32) {
    throw new ConfigError("JWT_SECRET must be at least 32 bytes");
  }
  return {
    redisUrl: e.REDIS_URL,
    redisClusterNodes: e.REDIS_CLUSTER_NODES?.split(",").map((node) => {
      const at = node.lastIndexOf(":");
      return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
    }),
    apiId: e.API_ID,
    replyTtlMs: e.REPLY_TTL_MS,
    databaseUrl: e.DATABASE_URL,
    apiPort: e.API_PORT,
    gatewayPort: e.GATEWAY_PORT,
    simPort: e.SIM_PORT,
    engineMetricsPort: e.ENGINE_METRICS_PORT,
    pollerMetricsPort: e.POLLER_METRICS_PORT,
    apiMetricsPort: e.API_METRICS_PORT,
    gatewayMetricsPort: e.GATEWAY_METRICS_PORT,
    bindHost: e.BIND_HOST,
    metricsHost: e.METRICS_HOST,
    jwtSecret,
    feed: e.FEED,
    backpackWsUrl: e.BACKPACK_WS_URL,
    snapshotIntervalMs: e.SNAPSHOT_INTERVAL_MS,
    priceMaxAgeMs: e.PRICE_MAX_AGE_MS,
    engineTimeoutMs: e.ENGINE_TIMEOUT_MS,
    mmrBps: e.MMR_BPS,
    feeBps: e.FEE_BPS,
    logLevel: e.LOG_LEVEL,
    markets: parseMarkets(e.MARKETS),
    corsOrigins: e.CORS_ORIGINS === undefined
      ? [`http://localhost:${e.GATEWAY_PORT}`, `http://127.0.0.1:${e.GATEWAY_PORT}`]
      : e.CORS_ORIGINS.split(",").map((o) => o.trim()).filter((o) => o !== ""),
    publicApiUrl: e.PUBLIC_API_URL?.replace(/\/+$/, ""),
    maxOpenPositions: e.MAX_OPEN_POSITIONS,
    maxPendingOrders: e.MAX_PENDING_ORDERS,
    tradeRate: { perSecond: e.TRADE_RATE, burst: e.TRADE_BURST ?? 2 * e.TRADE_RATE },
    userRate: { perSecond: e.USER_RATE, burst: e.USER_BURST ?? 2 * e.USER_RATE },
    signupsPerMinute: e.SIGNUP_RATE,
    candleRetentionDays: e.CANDLE_RETENTION_DAYS,
    wsMaxPerIp: e.WS_MAX_PER_IP,
    wsMax: e.WS_MAX,
    trustedProxies: e.TRUSTED_PROXIES ?? [],
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
