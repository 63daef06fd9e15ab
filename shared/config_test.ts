import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "./config.ts";

const SECRET = "x".repeat(32);

Deno.test("parseConfig applies the README's defaults", () => {
  const config = parseConfig({ JWT_SECRET: SECRET });
  assert.equal(config.apiPort, 3000);
  assert.equal(config.gatewayPort, 3001);
  assert.equal(config.feed, "backpack");
  assert.equal(config.backpackWsUrl, "wss://ws.backpack.exchange");
  assert.equal(config.snapshotIntervalMs, 10_000);
  assert.equal(config.priceMaxAgeMs, 5_000);
  assert.equal(config.mmrBps, 50);
  assert.equal(config.feeBps, 0);
  assert.equal(config.logLevel, "info");
  assert.equal(config.redisUrl, undefined);
  assert.equal(config.databaseUrl, undefined);
  // The gateway's own page may call the API; no other origin.
  assert.deepEqual(config.corsOrigins, ["http://localhost:3001", "http://127.0.0.1:3001"]);
  assert.equal(config.publicApiUrl, undefined);
});

Deno.test("CORS_ORIGINS replaces the default; PUBLIC_API_URL loses its trailing slash", () => {
  const config = parseConfig({
    JWT_SECRET: SECRET,
    GATEWAY_PORT: "8081",
    CORS_ORIGINS: "https://a.example, https://b.example",
    PUBLIC_API_URL: "https://api.example/api/v1/",
  });
  assert.deepEqual(config.corsOrigins, ["https://a.example", "https://b.example"]);
  assert.equal(config.publicApiUrl, "https://api.example/api/v1");
  assert.deepEqual(parseConfig({ JWT_SECRET: SECRET, GATEWAY_PORT: "8081" }).corsOrigins, [
    "http://localhost:8081",
    "http://127.0.0.1:8081",
  ]);
});

Deno.test("parseConfig reads and coerces every variable", () => {
  const config = parseConfig({
    REDIS_URL: "redis://127.0.0.1:6380",
    DATABASE_URL: "postgres://u@127.0.0.1:5432/test",
    API_PORT: "4000",
    GATEWAY_PORT: "4001",
    JWT_SECRET: SECRET,
    FEED: "sim",
    BACKPACK_WS_URL: "ws://127.0.0.1:9999",
    SNAPSHOT_INTERVAL_MS: "2500",
    PRICE_MAX_AGE_MS: "1000",
    MMR_BPS: "75",
    LOG_LEVEL: "debug",
  });
  assert.equal(config.redisUrl, "redis://127.0.0.1:6380");
  assert.equal(config.apiPort, 4000);
  assert.equal(config.feed, "sim");
  assert.equal(config.snapshotIntervalMs, 2500);
  assert.equal(config.mmrBps, 75);
});

Deno.test("parseConfig accepts no built-in JWT secret and refuses one under 32 bytes", () => {
  assert.equal(parseConfig({}).jwtSecret, undefined);
  assert.equal(parseConfig({ DEV: "1" }).jwtSecret, undefined);
  assert.throws(() => parseConfig({ JWT_SECRET: "short" }), /at least 32 bytes/);
  assert.throws(() => parseConfig({ DEV: "1", JWT_SECRET: "short" }), /at least 32 bytes/);
  assert.equal(parseConfig({ JWT_SECRET: SECRET }).jwtSecret, SECRET);
});

Deno.test("parseConfig reads the limits, listening hosts and metrics ports", () => {
  const defaults = parseConfig({});
  assert.equal(defaults.bindHost, "0.0.0.0");
  assert.equal(defaults.metricsHost, "127.0.0.1");
  assert.equal(defaults.apiMetricsPort, 3005);
  assert.equal(defaults.gatewayMetricsPort, 3006);
  assert.equal(defaults.maxOpenPositions, 200);
  assert.equal(defaults.maxPendingOrders, 50);
  assert.deepEqual(defaults.tradeRate, { perSecond: 20, burst: 40 });
  assert.deepEqual(defaults.userRate, { perSecond: 100, burst: 200 });
  assert.equal(defaults.signupsPerMinute, 10);
  assert.equal(defaults.wsMaxPerIp, 50);
  assert.equal(defaults.wsMax, 20_000);
  const custom = parseConfig({ TRADE_RATE: "5", TRADE_BURST: "7", BIND_HOST: "::1" });
  assert.deepEqual(custom.tradeRate, { perSecond: 5, burst: 7 });
  assert.equal(custom.bindHost, "::1");
  assert.throws(() => parseConfig({ MAX_OPEN_POSITIONS: "0" }), /MAX_OPEN_POSITIONS/);
  assert.throws(() => parseConfig({ BIND_HOST: "a b" }), /BIND_HOST/);
});

Deno.test("parseConfig refuses bad values with the variable's name", () => {
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ API_PORT: "70000" }, /API_PORT/],
    [{ API_PORT: "abc" }, /API_PORT/],
    [{ FEED: "kraken" }, /FEED/],
    [{ MMR_BPS: "100" }, /MMR_BPS/],
    [{ MMR_BPS: "0" }, /MMR_BPS/],
    [{ SNAPSHOT_INTERVAL_MS: "-5" }, /SNAPSHOT_INTERVAL_MS/],
    [{ REDIS_URL: "http://x" }, /REDIS_URL/],
    [{ LOG_LEVEL: "loud" }, /LOG_LEVEL/],
  ];
  for (const [env, message] of bad) {
    assert.throws(() => parseConfig({ JWT_SECRET: SECRET, ...env }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, message);
      return true;
    });
  }
});

Deno.test("parseConfig treats empty variables as unset", () => {
  assert.equal(parseConfig({ JWT_SECRET: SECRET, API_PORT: "" }).apiPort, 3000);
});

Deno.test("MARKETS maps Backpack markets to assets", () => {
  const defaults = parseConfig({ JWT_SECRET: SECRET }).markets;
  assert.equal(defaults.get("BTC_USDC_PERP"), "BTC");
  assert.equal(defaults.size, 3);
  const custom = parseConfig({ JWT_SECRET: SECRET, MARKETS: "BTC:BTC_USDC,ETH:ETH_USDC" }).markets;
  assert.deepEqual([...custom], [["BTC_USDC", "BTC"], ["ETH_USDC", "ETH"]]);
  assert.throws(() => parseConfig({ JWT_SECRET: SECRET, MARKETS: "DOGE:DOGE_USDC" }), /MARKETS/);
  assert.throws(() => parseConfig({ JWT_SECRET: SECRET, MARKETS: "btc" }), /MARKETS/);
});

Deno.test("TRUSTED_PROXIES: nobody by default; addresses and CIDR ranges; a bad entry refused", () => {
  assert.deepEqual(parseConfig({}).trustedProxies, []);
  assert.deepEqual(parseConfig({ TRUSTED_PROXIES: "" }).trustedProxies, []);
  assert.equal(
    parseConfig({ TRUSTED_PROXIES: "10.250.80.10, 172.16.0.0/12,fd00::/8" }).trustedProxies.length,
    3,
  );
  for (const bad of ["lb", "10.0.0.0/33", "10.0.0.1;10.0.0.2", "10.0.0.1,*"]) {
    assert.throws(() => parseConfig({ TRUSTED_PROXIES: bad }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /TRUSTED_PROXIES: ".*" is not an IPv4\/IPv6 address or CIDR/);
      return true;
    });
  }
});

Deno.test("FEE_BPS is 0–1000 basis points", () => {
  assert.equal(parseConfig({ JWT_SECRET: SECRET, FEE_BPS: "1000" }).feeBps, 1000);
  for (const bad of ["-1", "1001", "0.5", "ten"]) {
    assert.throws(() => parseConfig({ JWT_SECRET: SECRET, FEE_BPS: bad }), ConfigError, bad);
  }
});
