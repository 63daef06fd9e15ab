/** The gateway process: WebSocket fan-out of prices and each user's order events. */
import { onShutdown, startProcess } from "@trading/shared/process";
import { connectRedis, redisTargetOf } from "@trading/shared/redis";
import { redisReady } from "@trading/shared/wait";
import { startGateway } from "./server.ts";
import { webPage } from "./web_page.ts";

const { config, log, jwtSecret } = startProcess("gateway", { needsJwtSecret: true });
const reader = connectRedis(redisTargetOf(config), { name: "gateway-reader", log });
await redisReady(reader);
const gateway = await startGateway({
  port: config.gatewayPort,
  hostname: config.bindHost,
  metrics: { port: config.gatewayMetricsPort, hostname: config.metricsHost },
  maxSocketsPerIp: config.wsMaxPerIp,
  maxSockets: config.wsMax,
  trustedProxies: config.trustedProxies,
  reader,
  jwtSecret,
  log,
  fallback: webPage({
    apiBase: config.publicApiUrl,
    apiPort: config.apiPort,
    mmrBps: config.mmrBps,
    feeBps: config.feeBps,
    log,
  }),
  onListen: (port) => log.info("gateway listening", { ready: true, host: config.bindHost, port }),
});
onShutdown(log, "gateway", [
  ["gateway", () => gateway.close()],
  ["redis", () => reader.disconnect()],
]);
