/**
 * Docker is not available on our machines, so compose.yaml is checked against the code: every
 * service it runs exists, every variable it sets is one the config reads (with the config's own
 * defaults), every port matches, and only what must be public is. Two sets of services: the
 * single-node default (no profile) and the `cluster` profile (Redis Cluster, two APIs, two
 * gateways, one load balancer whose config, deploy/nginx.conf, is read here too).
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { type Config, parseConfig } from "@trading/shared/config";
import { clientAddress, isTrusted, parseIp, parseRange } from "@trading/shared/client_address";
import { CONFIGURABLE } from "../engine/core/configure.ts";

const root = new URL("../", import.meta.url);
const SECRET = "x".repeat(32);

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition?: string }>;
  profiles?: string[];
  networks?: string[] | Record<string, { ipv4_address?: string } | null>;
  volumes?: string[];
  restart?: string;
}

const APP = ["engine", "api", "poller", "gateway"] as const;
type Role = (typeof APP)[number];

/** The cluster profile's processes, and which default service each is another copy of. */
const CLUSTER_APP: Record<string, Role> = {
  "cluster-engine": "engine",
  "cluster-poller": "poller",
  "api-1": "api",
  "api-2": "api",
  "gateway-1": "gateway",
  "gateway-2": "gateway",
};
const CLUSTER_NODES = ["redis-node-1", "redis-node-2", "redis-node-3"];
const CLUSTER_INIT = "redis-cluster-init";
const LB = "lb";
const CLUSTER = [...CLUSTER_NODES, CLUSTER_INIT, ...Object.keys(CLUSTER_APP), LB];
/** Every process service of both sets, with what it runs. */
const ALL_APP: Array<[string, Role]> = [
  ...APP.map((name) => [name, name] as [string, Role]),
  ...Object.entries(CLUSTER_APP),
];

/** Each app service: its port variables and the config field that reads each. */
const PORTS: Record<Role, Record<string, keyof Config>> = {
  engine: { ENGINE_METRICS_PORT: "engineMetricsPort" },
  api: { API_PORT: "apiPort", API_METRICS_PORT: "apiMetricsPort" },
  poller: { POLLER_METRICS_PORT: "pollerMetricsPort" },
  gateway: { GATEWAY_PORT: "gatewayPort", GATEWAY_METRICS_PORT: "gatewayMetricsPort" },
};
/** What each health check must fetch: its own process, on one of its own ports. */
const HEALTH: Record<Role, { variable: string; path: string }> = {
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

interface ComposeFile {
  services: Record<string, Service>;
  networks?: Record<string, { ipam?: { config?: Array<{ subnet?: string }> } } | null>;
}

async function loadComposeFile(): Promise<ComposeFile> {
  return parse(await Deno.readTextFile(new URL("compose.yaml", root)), {
    merge: true,
  }) as ComposeFile;
}

async function loadCompose(): Promise<Record<string, Service>> {
  return (await loadComposeFile()).services;
}

/** What `docker compose up` runs: the services without a profile. */
function defaultSet(services: Record<string, Service>): string[] {
  return Object.keys(services).filter((name) => services[name]!.profiles === undefined).sort();
}

/** The networks a service is on (`default` when it names none). */
function networksOf(service: Service): string[] {
  const networks = service.networks ?? ["default"];
  return Array.isArray(networks) ? networks : Object.keys(networks);
}

/** One nginx directive: `name args…;` or `name args… { block }`. */
interface Directive {
  name: string;
  args: string[];
  block?: Directive[];
}

/** Enough of nginx's syntax for our config: directives, blocks, quotes, comments. */
function parseNginx(text: string): Directive[] {
  const tokens = text.replace(/#[^\n]*/g, "").match(/"[^"]*"|'[^']*'|[{};]|[^\s{};"']+/g) ?? [];
  let at = 0;
  const unquote = (t: string) => /^(["']).*\1$/s.test(t) ? t.slice(1, -1) : t;
  const block = (nested: boolean): Directive[] => {
    const out: Directive[] = [];
    while (at < tokens.length) {
      if (tokens[at] === "}") {
        assert.ok(nested, "nginx.conf: unbalanced }");
        at++;
        return out;
      }
      const words: string[] = [];
      while (at < tokens.length && tokens[at] !== ";" && tokens[at] !== "{") {
        words.push(unquote(tokens[at++]!));
      }
      const end = tokens[at++];
      assert.ok(end !== undefined && words.length > 0, `nginx.conf: bad directive ${words}`);
      const [name, ...args] = words as [string, ...string[]];
      out.push(end === "{" ? { name, args, block: block(true) } : { name, args });
    }
    assert.ok(!nested, "nginx.conf: unclosed {");
    return out;
  };
  return block(false);
}

/** The directives called `name` in a block. */
const all = (block: Directive[], name: string) => block.filter((d) => d.name === name);

/** nginx's duration syntax ("3600s", "1h", "90"), in seconds. */
function seconds(value: string): number {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(value);
  assert.ok(match, `not an nginx duration: ${value}`);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[match[2] ?? "s"]!;
  return Number(match[1]) * unit;
}

Deno.test("compose.yaml names only services, ports and variables that exist", async () => {
  const services = await loadCompose();
  // `docker compose up` runs the single-node set, and only it; every other service is the
  // cluster profile's.
  assert.deepEqual(defaultSet(services), [
    "api",
    "engine",
    "gateway",
    "poller",
    "postgres",
    "redis",
  ]);
  assert.deepEqual(
    Object.keys(services).filter((name) => services[name]!.profiles !== undefined).sort(),
    [...CLUSTER].sort(),
  );
  assert.ok(
    services.redis!.command!.join(" ").includes("--appendonly yes"),
    "Redis must run with AOF",
  );
  assert.ok(services.postgres!.healthcheck && services.redis!.healthcheck);

  const configSource = await Deno.readTextFile(new URL("shared/config.ts", root));
  for (const [name, role] of ALL_APP) {
    const service = services[name]!;
    const script = service.command!.at(-1)!;
    await Deno.stat(new URL(script, root)); // the entry point exists
    assert.equal(script, `${role}/main.ts`);
    assert.ok(
      service.image?.startsWith("denoland/deno:"),
      `${name} runs on the official Deno image`,
    );
    const redis = name === role ? "redis" : CLUSTER_INIT;
    assert.ok(
      service.depends_on?.[redis] && service.depends_on?.postgres,
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
  for (const [name] of ALL_APP) {
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
    for (const [name] of ALL_APP) {
      assert.ok(variable in services[name]!.environment!, `${name} is not given ${variable}`);
    }
  }
});

Deno.test("compose.yaml: every parameter the engine takes from its configuration reaches it", async () => {
  const services = await loadCompose();
  // mmrBps → MMR_BPS: each parameter a configure entry carries, and the candle retention.
  const variables = [
    ...CONFIGURABLE.map((name) => name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()),
    "CANDLE_RETENTION_DAYS",
  ];
  assert.ok(variables.includes("FEE_BPS"));
  for (const name of ["engine", "cluster-engine"]) {
    for (const variable of variables) {
      assert.ok(variable in services[name]!.environment!, `${name} is not given ${variable}`);
    }
  }
});

Deno.test("compose.yaml: JWT_SECRET required where tokens are made or checked, only there", async () => {
  const services = await loadCompose();
  for (const [name, role] of ALL_APP) {
    const secret = services[name]!.environment!.JWT_SECRET;
    if (role === "api" || role === "gateway") {
      assert.match(
        secret ?? "",
        /^\$\{JWT_SECRET:\?[^}]+\}$/,
        `${name} must require JWT_SECRET from the environment, with no default`,
      );
    } else {
      assert.equal(secret, undefined, `${name} needs no secret`);
    }
  }
  for (const name of [...CLUSTER_NODES, CLUSTER_INIT, LB]) {
    assert.equal(services[name]!.environment, undefined, `${name} is given no variables`);
  }
  const text = await Deno.readTextFile(new URL("compose.yaml", root));
  assert.doesNotMatch(text, /JWT_SECRET:-/, "no built-in secret");
});

Deno.test("compose.yaml: ports, listening hosts and health checks match the config", async () => {
  const services = await loadCompose();
  const defaults = parseConfig({});
  for (const [name, role] of ALL_APP) {
    const service = services[name]!;
    const env = service.environment ?? {};
    // Every port the service's processes listen on is named, at the README's number.
    for (const [variable, field] of Object.entries(PORTS[role])) {
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
    const { variable, path } = HEALTH[role];
    assert.ok(
      health.includes(`http://127.0.0.1:${env[variable]}${path}`),
      `${name}'s health check must fetch 127.0.0.1:${env[variable]}${path}: ${health}`,
    );
  }
  // The API and the gateway are published (in the cluster set, reached by the load balancer),
  // so they listen on every interface of their container whatever the default; nothing else
  // is published, and in the cluster set only the load balancer publishes.
  for (const [name, role] of ALL_APP) {
    const service = services[name]!;
    const env = service.environment!;
    if (role === "engine" || role === "poller") {
      assert.equal(service.ports, undefined, `${name} publishes nothing`);
      assert.equal(env.BIND_HOST, undefined, `${name} serves no users`);
      continue;
    }
    assert.equal(env.BIND_HOST, "0.0.0.0", `${name}: BIND_HOST`);
    const port = env[role === "api" ? "API_PORT" : "GATEWAY_PORT"];
    if (name === role) assert.deepEqual(service.ports, [`${port}:${port}`]);
    else assert.equal(service.ports, undefined, `${name} publishes nothing: ${LB} does`);
    parseConfig({ BIND_HOST: env.BIND_HOST });
  }
  for (const name of ["redis", "postgres", ...CLUSTER_NODES, CLUSTER_INIT]) {
    assert.equal(services[name]!.ports, undefined, `${name} publishes nothing`);
  }
  const published = CLUSTER.filter((name) => services[name]!.ports !== undefined);
  assert.deepEqual(published, [LB], "in the cluster profile only the load balancer publishes");
  // The load balancer takes the single set's public ports: clients see the same addresses.
  assert.deepEqual(services[LB]!.ports, [...services.api!.ports!, ...services.gateway!.ports!]);
});

Deno.test("compose.yaml: the single-node default stays as it was", async () => {
  const services = await loadCompose();
  for (const name of defaultSet(services)) {
    assert.equal(services[name]!.networks, undefined, `${name} stays on the default network`);
  }
  assert.equal(services.redis!.image, "redis:7");
  assert.ok(!services.redis!.command!.includes("--cluster-enabled"), "redis is a single node");
  for (const name of APP) {
    const env = services[name]!.environment!;
    assert.equal(env.REDIS_URL, "redis://redis:6379", `${name}: REDIS_URL`);
    assert.equal(env.REDIS_CLUSTER_NODES, undefined, `${name}: no REDIS_CLUSTER_NODES`);
    assert.equal(env.API_ID, undefined, `${name}: API_ID is made at start`);
    assert.deepEqual(services[name]!.depends_on, {
      redis: { condition: "service_healthy" },
      postgres: { condition: "service_healthy" },
    });
    assert.equal(services[name]!.restart, "unless-stopped");
  }
});

Deno.test("compose.yaml: the cluster profile runs on a 3-node Redis Cluster", async () => {
  const services = await loadCompose();
  for (const name of CLUSTER) {
    assert.deepEqual(services[name]!.profiles, ["cluster"], `${name}: profiles`);
  }

  // Three masters, AOF on as the single node, each with its own volume, and announcing its
  // service name so that ioredis' Cluster client, in another container, can follow CLUSTER
  // SLOTS and MOVED.
  const volumes = new Set<string>();
  const nodeNetworks = new Set<string>();
  for (const name of CLUSTER_NODES) {
    const node = services[name]!;
    assert.equal(node.image, "redis:7", `${name} runs the official Redis 7 image`);
    const command = node.command!.join(" ");
    for (
      const flag of [
        "--cluster-enabled yes",
        "--appendonly yes",
        `--cluster-announce-hostname ${name} `,
        "--cluster-preferred-endpoint-type hostname",
      ]
    ) {
      assert.ok(command.includes(flag), `${name} runs with ${flag}: ${command}`);
    }
    assert.ok(!/--port (?!6379\b)/.test(command), `${name} listens on 6379`);
    assert.ok(node.healthcheck?.test.join(" ").includes("redis-cli ping"), `${name}: health`);
    assert.equal(node.volumes?.length, 1, `${name}: one volume`);
    const [volume, path] = node.volumes![0]!.split(":");
    assert.equal(path, "/data", `${name} keeps its data and nodes.conf in its volume`);
    assert.ok(/^[a-z0-9-]+$/.test(volume!), `${name}: a named volume, not a bind mount`);
    volumes.add(volume!);
    for (const network of networksOf(node)) nodeNetworks.add(network);
  }
  assert.equal(volumes.size, CLUSTER_NODES.length, "each node has its own volume");

  // The one-shot init: after every node is healthy, creates the cluster unless it exists.
  const init = services[CLUSTER_INIT]!;
  assert.equal(init.image, "redis:7");
  assert.ok(init.restart === undefined || init.restart === "no", "the init runs once");
  for (const name of CLUSTER_NODES) {
    assert.equal(init.depends_on?.[name]?.condition, "service_healthy", `init waits for ${name}`);
  }
  const script = init.command!.join(" ");
  for (
    const part of ["cluster info", "--cluster create", "--cluster-replicas 0", "--cluster-yes"]
  ) {
    assert.ok(script.includes(part), `the init runs ${part}`);
  }
  assert.ok(
    script.indexOf("cluster info") < script.indexOf("--cluster create"),
    "the init checks for an existing cluster before creating one",
  );
  for (const name of CLUSTER_NODES) assert.ok(script.includes(name), `the init names ${name}`);
  assert.match(script, /getent hosts redis[\s>]/, "the init refuses to run beside the single set");

  // Every process of the set: Redis Cluster through exactly the three nodes, never REDIS_URL,
  // after the init has succeeded; otherwise the same configuration as its single-set twin.
  const apiIds: string[] = [];
  for (const [name, role] of Object.entries(CLUSTER_APP)) {
    const service = services[name]!;
    const twin = services[role]!;
    const env = service.environment!;
    assert.equal(env.REDIS_URL, undefined, `${name} sets no REDIS_URL`);
    assert.deepEqual(
      env.REDIS_CLUSTER_NODES?.split(","),
      CLUSTER_NODES.map((node) => `${node}:6379`),
      `${name}: REDIS_CLUSTER_NODES`,
    );
    assert.deepEqual(
      parseConfig({ REDIS_CLUSTER_NODES: env.REDIS_CLUSTER_NODES }).redisClusterNodes,
      CLUSTER_NODES.map((host) => ({ host, port: 6379 })),
    );
    // TRUSTED_PROXIES: the load balancer's address (checked with it, below).
    const { REDIS_CLUSTER_NODES: _nodes, API_ID, TRUSTED_PROXIES: _trusted, ...rest } = env;
    const { REDIS_URL: _url, TRUSTED_PROXIES: _twinTrusted, ...twinRest } = twin.environment!;
    assert.deepEqual(
      rest,
      twinRest,
      `${name} is configured as ${role}, Redis, API_ID and TRUSTED_PROXIES aside`,
    );
    if (role === "api") apiIds.push(API_ID!);
    else assert.equal(API_ID, undefined, `${name}: API_ID is the API's`);
    assert.deepEqual(service.command, twin.command, `${name} runs what ${role} runs`);
    assert.deepEqual(service.healthcheck, twin.healthcheck, `${name} is checked as ${role}`);
    assert.equal(service.image, twin.image);
    assert.equal(
      service.depends_on?.[CLUSTER_INIT]?.condition,
      "service_completed_successfully",
      `${name} waits for the cluster to be made`,
    );
    assert.equal(service.depends_on?.postgres?.condition, "service_healthy");
    assert.equal(service.depends_on?.redis, undefined, `${name} never waits for the single node`);
    // It reaches the nodes and Postgres.
    const networks = networksOf(service);
    for (const network of nodeNetworks) assert.ok(networks.includes(network), `${name}: nodes`);
    assert.ok(networks.includes("default"), `${name} reaches postgres`);
  }
  assert.deepEqual(apiIds, ["api-1", "api-2"], "each API has its own API_ID");
  for (const id of apiIds) parseConfig({ API_ID: id });
  // The init also reaches the nodes, and the default network where the single set would be.
  for (const network of [...nodeNetworks, "default"]) {
    assert.ok(networksOf(init).includes(network), `the init is on ${network}`);
  }
});

Deno.test("compose.yaml: the load balancer routes to both APIs and both gateways", async () => {
  const services = await loadCompose();
  const lb = services[LB]!;
  // An official image (Docker Hub's library: no namespace) of nginx.
  assert.match(lb.image ?? "", /^nginx:1\.27(\.\d+)?$/, "the load balancer runs official nginx");
  for (const name of Object.keys(CLUSTER_APP)) {
    assert.ok(lb.depends_on?.[name], `${LB} starts ${name} with it`);
  }

  // Its config: a file of this repository, mounted read-only as nginx's.
  const mounts = (lb.volumes ?? []).map((volume) => volume.split(":"));
  const mount = mounts.find(([, target]) => target === "/etc/nginx/nginx.conf");
  assert.ok(mount, `${LB} mounts its nginx.conf`);
  assert.equal(mount[2], "ro", `${LB}'s config is mounted read-only`);
  assert.match(mount[0]!, /^\.\/deploy\//);
  const http = all(parseNginx(await Deno.readTextFile(new URL(mount[0]!, root))), "http")[0]
    ?.block;
  assert.ok(http, "nginx.conf has an http block");

  /** The location `/` of the server listening on `port`, and the upstream it passes to. */
  const route = (port: string) => {
    const servers = all(http, "server").filter((server) =>
      all(server.block!, "listen").some((listen) => listen.args[0] === port)
    );
    assert.equal(servers.length, 1, `one server listens on ${port}`);
    const locations = all(servers[0]!.block!, "location");
    assert.deepEqual(locations.map((l) => l.args), [["/"]], `${port}: everything goes through`);
    const location = locations[0]!.block!;
    const pass = all(location, "proxy_pass")[0]?.args[0] ?? "";
    const upstreamName = /^http:\/\/([A-Za-z0-9_-]+)$/.exec(pass)?.[1];
    assert.ok(upstreamName, `${port} passes to an upstream: ${pass}`);
    const upstreams = all(http, "upstream").filter((u) => u.args[0] === upstreamName);
    assert.equal(upstreams.length, 1, `upstream ${upstreamName} is defined once`);
    const upstream = upstreams[0]!.block!;
    // Round robin is nginx's default: no other balancing method.
    const methods = upstream.filter((d) =>
      ["hash", "ip_hash", "least_conn", "least_time", "random", "sticky"].includes(d.name)
    );
    assert.deepEqual(methods, [], `${upstreamName} is round robin`);
    const weights = all(upstream, "server").filter((d) => d.args.some((a) => /^weight=/.test(a)));
    assert.deepEqual(weights, [], `${upstreamName}: equal weights`);
    return {
      location,
      servers: all(upstream, "server").map((server) => server.args[0]).sort(),
      header: (name: string) =>
        all(location, "proxy_set_header").find((d) => d.args[0]?.toLowerCase() === name)
          ?.args[1],
    };
  };

  // Each published port reaches every service of its kind, on the port that service listens on.
  const apis = Object.keys(CLUSTER_APP).filter((name) => CLUSTER_APP[name] === "api");
  const gateways = Object.keys(CLUSTER_APP).filter((name) => CLUSTER_APP[name] === "gateway");
  assert.deepEqual(apis, ["api-1", "api-2"]);
  assert.deepEqual(gateways, ["gateway-1", "gateway-2"]);
  const portOf = (name: string, variable: string) => services[name]!.environment![variable]!;
  const apiPort = portOf("api", "API_PORT");
  const gatewayPort = portOf("gateway", "GATEWAY_PORT");
  assert.deepEqual(lb.ports, [`${apiPort}:${apiPort}`, `${gatewayPort}:${gatewayPort}`]);

  const api = route(apiPort);
  assert.deepEqual(api.servers, apis.map((name) => `${name}:${portOf(name, "API_PORT")}`));
  const gateway = route(gatewayPort);
  assert.deepEqual(
    gateway.servers,
    gateways.map((name) => `${name}:${portOf(name, "GATEWAY_PORT")}`),
  );

  // WebSockets: HTTP/1.1 upstream, the upgrade headers passed on, long read timeouts.
  assert.deepEqual(all(gateway.location, "proxy_http_version")[0]?.args, ["1.1"]);
  assert.equal(gateway.header("upgrade"), "$http_upgrade");
  const connection = gateway.header("connection");
  if (connection !== "upgrade") {
    const variable = connection?.replace(/^\$/, "");
    const map = all(http, "map").find((m) => m.args[1] === `$${variable}`);
    assert.ok(map, `Connection comes from a map: ${connection}`);
    assert.equal(map.args[0], "$http_upgrade");
    assert.deepEqual(all(map.block!, "default")[0]?.args, ["upgrade"]);
  }
  for (const timeout of ["proxy_read_timeout", "proxy_send_timeout"]) {
    const value = all(gateway.location, timeout)[0]?.args[0];
    assert.ok(value && seconds(value) >= 3600, `${gatewayPort}: ${timeout} ${value} is long`);
  }
});

Deno.test("compose.yaml: behind the load balancer, clients are counted by X-Forwarded-For", async () => {
  const { services, networks } = await loadComposeFile();
  const lb = services[LB]!;
  // The balancer is on one network only, at a fixed address inside that network's subnet: the
  // only address the APIs and the gateways can see it connect from.
  const lbNetworks = networksOf(lb);
  assert.equal(lbNetworks.length, 1, `${LB} is on one network: ${lbNetworks}`);
  const edge = lbNetworks[0]!;
  assert.notEqual(edge, "default", `${LB}'s network is one with fixed addresses`);
  const address = (lb.networks as Record<string, { ipv4_address?: string }>)[edge]?.ipv4_address;
  assert.ok(address !== undefined && parseIp(address) !== undefined, `${LB}: a fixed address`);
  const subnets = (networks?.[edge]?.ipam?.config ?? []).map((c) => c.subnet ?? "");
  assert.equal(subnets.length, 1, `${edge} declares its subnet`);
  assert.ok(isTrusted(parseIp(address)!, [parseRange(subnets[0]!)!]), `${address} in ${subnets}`);
  for (const other of Object.keys(networks ?? {}).filter((n) => n !== edge)) {
    for (const subnet of networks?.[other]?.ipam?.config ?? []) {
      assert.notEqual(subnet.subnet, subnets[0], `${edge} and ${other} share a subnet`);
    }
  }

  // Every API and gateway it routes to is on that network and trusts exactly that address;
  // nothing else is trusted, and nothing else of the set needs to be.
  for (const [name, role] of Object.entries(CLUSTER_APP)) {
    const service = services[name]!;
    const trusted = service.environment!.TRUSTED_PROXIES;
    if (role === "engine" || role === "poller") {
      assert.equal(trusted, undefined, `${name} counts no client addresses`);
      continue;
    }
    assert.equal(trusted, address, `${name}: TRUSTED_PROXIES names ${LB}'s address`);
    const config = parseConfig({ TRUSTED_PROXIES: trusted });
    assert.equal(config.trustedProxies.length, 1);
    assert.ok(networksOf(service).includes(edge), `${name} is on ${edge}, where ${LB} is`);
    // What that means for a request through the balancer, and for one around it.
    assert.equal(clientAddress(address, "198.51.100.7", config.trustedProxies), "198.51.100.7");
    assert.equal(clientAddress("10.0.0.99", "198.51.100.7", config.trustedProxies), "10.0.0.99");
  }
  // The single set, reached directly, trusts nobody unless told.
  for (const name of ["api", "gateway"]) {
    assert.equal(services[name]!.environment!.TRUSTED_PROXIES, "${TRUSTED_PROXIES:-}", name);
  }
  for (const name of ["engine", "poller"]) {
    assert.equal(services[name]!.environment!.TRUSTED_PROXIES, undefined, name);
  }

  // nginx appends the address it saw to the client's X-Forwarded-For, for both upstreams.
  const mount = (lb.volumes ?? []).map((v) => v.split(":")).find(([, target]) =>
    target === "/etc/nginx/nginx.conf"
  )!;
  const http = all(parseNginx(await Deno.readTextFile(new URL(mount[0]!, root))), "http")[0]!
    .block!;
  const ports = new Set<string>();
  for (const server of all(http, "server")) {
    const port = all(server.block!, "listen")[0]!.args[0]!;
    ports.add(port);
    for (const location of all(server.block!, "location")) {
      const forwarded = all(location.block!, "proxy_set_header").filter((d) =>
        d.args[0]?.toLowerCase() === "x-forwarded-for"
      );
      assert.deepEqual(
        forwarded.map((d) => d.args[1]),
        ["$proxy_add_x_forwarded_for"],
        `nginx :${port} sets X-Forwarded-For $proxy_add_x_forwarded_for`,
      );
    }
  }
  const apiPort = services.api!.environment!.API_PORT!;
  const gatewayPort = services.gateway!.environment!.GATEWAY_PORT!;
  assert.deepEqual([...ports].sort(), [apiPort, gatewayPort].sort());
});
