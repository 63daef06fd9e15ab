/**
 * Docker is not available on our machines, so compose.yaml is checked against the code: every
 * service it runs exists, every variable it sets is one the config reads (with the config's own
 * defaults), every port matches, and only what must be public is.
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { type Config, parseConfig } from "@trading/shared/config";

const root = new URL("../", import.meta.url);
const SECRET = "x".repeat(32);

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, unknown>;
}

const APP = ["engine", "api", "poller", "gateway"] as const;

/** Each app service: its port variables and the config field that reads each. */
const PORTS: Record<(typeof APP)[number], Record<string, keyof Config>> = {
  engine: { ENGINE_METRICS_PORT: "engineMetricsPort" },
  api: { API_PORT: "apiPort", API_METRICS_PORT: "apiMetricsPort" },
  poller: { POLLER_METRICS_PORT: "pollerMetricsPort" },
  gateway: { GATEWAY_PORT: "gatewayPort", GATEWAY_METRICS_PORT: "gatewayMetricsPort" },
};
/** What each health check must fetch: its own process, on one of its own ports. */
const HEALTH: Record<(typeof APP)[number], { variable: string; path: string }> = {
  engine: { variable: "ENGINE_METRICS_PORT", path: "/metrics" },
  api: { variable: "API_PORT", path: "/api/v1/health" },
  poller: { variable: "POLLER_METRICS_PORT", path: "/metrics" },
  gateway: { variable: "GATEWAY_PORT", path: "/health" },
};

/** `${VAR:-default}` → default, `${VAR:?message}` / `${VAR}` → "" (unset), as compose does. */
function interpolate(value: string): string {
  return value.replace(
    /\$\{[A-Z_]+(?:(:?-)([^}]*)|:?\?[^}]*)?\}/g,
    (_m, dash, fallback) => dash ? fallback : "",
  );
}

async function loadCompose(): Promise<Record<string, Service>> {
  const compose = parse(await Deno.readTextFile(new URL("compose.yaml", root)), {
    merge: true,
  }) as { services: Record<string, Service> };
  return compose.services;
}

Deno.test("compose.yaml names only services, ports and variables that exist", async () => {
  const services = await loadCompose();
  assert.deepEqual(Object.keys(services).sort(), [
    "api",
    "engine",
    "gateway",
    "poller",
    "postgres",
    "redis",
  ]);
  assert.ok(
    services.redis!.command!.join(" ").includes("--appendonly yes"),
    "Redis must run with AOF",
  );
  assert.ok(services.postgres!.healthcheck && services.redis!.healthcheck);

  const configSource = await Deno.readTextFile(new URL("shared/config.ts", root));
  for (const name of APP) {
    const service = services[name]!;
    const script = service.command!.at(-1)!;
    await Deno.stat(new URL(script, root)); // the entry point exists
    assert.equal(script, `${name}/main.ts`);
    assert.ok(
      service.image?.startsWith("denoland/deno:"),
      `${name} runs on the official Deno image`,
    );
    assert.ok(
      service.depends_on?.redis && service.depends_on?.postgres,
      `${name} waits for its services`,
    );
    const env = service.environment ?? {};
    for (const variable of Object.keys(env)) {
      assert.ok(
        configSource.includes(`${variable}:`),
        `${name} sets ${variable}, which the config does not read`,
      );
    }
    // The values compose gives must pass the config's own validation.
    const resolved = Object.fromEntries(
      Object.entries(env).map(([k, v]) => [k, interpolate(String(v))]),
    );
    parseConfig({ ...resolved, JWT_SECRET: SECRET });
  }
});

Deno.test("compose.yaml: a variable's fallback is the config's own default", async () => {
  const services = await loadCompose();
  const defaults = parseConfig({});
  for (const name of APP) {
    for (const [variable, value] of Object.entries(services[name]!.environment ?? {})) {
      const fallback = /^\$\{([A-Z_]+):-([^}]*)\}$/.exec(String(value));
      if (fallback === null) continue;
      assert.equal(fallback[1], variable, `${name}: ${variable} takes ${fallback[1]}`);
      assert.deepEqual(
        parseConfig({ [variable]: fallback[2] }),
        defaults,
        `${name}: ${variable} falls back to ${JSON.stringify(fallback[2])}, not the default`,
      );
    }
  }
  // The limits reach the processes that enforce them.
  for (
    const variable of [
      "MAX_OPEN_POSITIONS",
      "MAX_PENDING_ORDERS",
      "TRADE_RATE",
      "TRADE_BURST",
      "USER_RATE",
      "USER_BURST",
      "SIGNUP_RATE",
      "WS_MAX_PER_IP",
      "WS_MAX",
    ]
  ) {
    for (const name of APP) {
      assert.ok(variable in services[name]!.environment!, `${name} is not given ${variable}`);
    }
  }
});

Deno.test("compose.yaml: JWT_SECRET required where tokens are made or checked, only there", async () => {
  const services = await loadCompose();
  for (const name of ["api", "gateway"]) {
    assert.match(
      services[name]!.environment!.JWT_SECRET ?? "",
      /^\$\{JWT_SECRET:\?[^}]+\}$/,
      `${name} must require JWT_SECRET from the environment, with no default`,
    );
  }
  for (const name of ["engine", "poller"]) {
    assert.equal(services[name]!.environment!.JWT_SECRET, undefined, `${name} needs no secret`);
  }
  const text = await Deno.readTextFile(new URL("compose.yaml", root));
  assert.doesNotMatch(text, /JWT_SECRET:-/, "no built-in secret");
});

Deno.test("compose.yaml: ports, listening hosts and health checks match the config", async () => {
  const services = await loadCompose();
  const defaults = parseConfig({});
  for (const name of APP) {
    const service = services[name]!;
    const env = service.environment ?? {};
    // Every port the service's processes listen on is named, at the README's number.
    for (const [variable, field] of Object.entries(PORTS[name])) {
      assert.equal(env[variable], String(defaults[field]), `${name}: ${variable}`);
    }
    // Metrics stay private: never published, never bound beyond the container's loopback.
    assert.ok(
      env.METRICS_HOST === undefined || env.METRICS_HOST === "127.0.0.1",
      `${name}: METRICS_HOST ${env.METRICS_HOST}`,
    );
    assert.equal(defaults.metricsHost, "127.0.0.1");
    // The health check asks this container's own process, on 127.0.0.1, which both BIND_HOST
    // and METRICS_HOST's default reach.
    const health = service.healthcheck?.test.join(" ") ?? "";
    const { variable, path } = HEALTH[name];
    assert.ok(
      health.includes(`http://127.0.0.1:${env[variable]}${path}`),
      `${name}'s health check must fetch 127.0.0.1:${env[variable]}${path}: ${health}`,
    );
  }
  // The API and the gateway are published, so they listen on every interface of their
  // container whatever the default; nothing else is published.
  for (const name of ["api", "gateway"] as const) {
    const env = services[name]!.environment!;
    assert.equal(env.BIND_HOST, "0.0.0.0", `${name}: BIND_HOST`);
    const port = env[name === "api" ? "API_PORT" : "GATEWAY_PORT"];
    assert.deepEqual(services[name]!.ports, [`${port}:${port}`]);
    parseConfig({ BIND_HOST: env.BIND_HOST });
  }
  for (const name of ["engine", "poller"] as const) {
    assert.equal(services[name]!.ports, undefined, `${name} publishes nothing`);
    assert.equal(services[name]!.environment!.BIND_HOST, undefined, `${name} serves no users`);
  }
});
