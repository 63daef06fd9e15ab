/**
 * The poller process: Backpack (or the simulator with FEED=sim) → engine:input, and each quote
 * again to {e0}:quotes for the candle writer (append_quote.ts), beside a day of the exchange's
 * candles written at start (klines.ts). Quotes that arrive while Redis is down are dropped, not
 * queued: a quote is worthless seconds later, and the engine refuses trades on stale prices
 * meanwhile.
 */
import { onShutdown, startProcess } from "@trading/shared/process";
import { connectRedis, redisTargetOf } from "@trading/shared/redis";
import { Registry, serveMetrics } from "@trading/shared/metrics";
import { redisReady } from "@trading/shared/wait";
import { BackpackFeed } from "./backpack.ts";
import { appendQuote } from "./append_quote.ts";
import { backfillCandles, BACKPACK_REST_URL } from "./klines.ts";
import { normalizeFrame } from "./normalize.ts";

const { config, log } = startProcess("poller");
const redis = connectRedis(redisTargetOf(config), {
  name: "poller",
  failFast: true,
  autoPipeline: true,
  log,
});
const url = config.feed === "sim" ? `ws://127.0.0.1:${config.simPort}` : config.backpackWsUrl;

let appended = 0;
let dropped = 0;
let invalid = 0;
let redisDown = false;

const feed = new BackpackFeed({
  url,
  markets: [...config.markets.keys()],
  log,
  onFrame: (text) => {
    const normalized = normalizeFrame(text, config.markets);
    if (normalized.kind === "invalid") {
      if (invalid++ % 1000 === 0) {
        log.warn("refused a feed frame", { reason: normalized.reason, invalid });
      }
      return;
    }
    if (normalized.kind !== "quote") return;
    appendQuote(redis, Object.entries(normalized.fields).flat()).then(() => {
      appended++;
      if (redisDown) log.info("redis back; quotes flowing again", { dropped });
      redisDown = false;
    }).catch((error) => {
      dropped++;
      if (!redisDown) log.warn("redis unavailable; dropping quotes until it returns", { error });
      redisDown = true;
    });
  },
});
feed.start();
// In the background, once Redis answers: live quotes flow meanwhile, and a failed backfill only
// logs (its commands fail at once while Redis is down: the connection is fail-fast).
void redisReady(redis).then(() =>
  backfillCandles({
    redis,
    baseUrl: config.feed === "sim" ? `http://127.0.0.1:${config.simPort}` : BACKPACK_REST_URL,
    markets: config.markets,
    log,
  })
).catch((error) => log.warn("candle backfill failed", { error }));
const metrics = new Registry();
metrics.gauge("poller_reconnects_total", "reconnections to the feed").track(() => feed.reconnects);
metrics.gauge("poller_quotes_appended_total", "quotes appended to engine:input").track(() =>
  appended
);
metrics.gauge("poller_quotes_dropped_total", "quotes dropped while Redis was down").track(() =>
  dropped
);
metrics.gauge("poller_frames_refused_total", "feed frames refused as malformed").track(() =>
  invalid
);
metrics.gauge("poller_feed_open", "1 while the feed socket is open").track(() =>
  feed.state === "open" ? 1 : 0
);
const metricsServer = serveMetrics(
  metrics,
  config.pollerMetricsPort,
  (error) => log.warn("cannot serve /metrics", { port: config.pollerMetricsPort, error }),
  config.metricsHost,
);
log.info("poller started", { ready: true, url, markets: [...config.markets.keys()] });

const stats = setInterval(() => log.debug("poller stats", { appended, dropped, invalid }), 10_000);
onShutdown(log, "poller", [
  ["stats", () => clearInterval(stats)],
  ["feed", () => feed.stop()],
  ["metrics server", () => metricsServer?.shutdown()],
  ["redis", () => redis.disconnect()],
]);
