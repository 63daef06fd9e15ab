/**
 * Cross-process test harness: a private Redis database and a fresh Postgres database per
 * test, the real processes spawned with `deno run`, and small HTTP/WebSocket clients.
 */
import { Redis } from "ioredis";
import postgres from "postgres";
import { withDatabase } from "@trading/shared/db";

const ROOT = new URL("../", import.meta.url).pathname;
const ADMIN_DB = Deno.env.get("TEST_ADMIN_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/postgres";
const REDIS_BASE = Deno.env.get("TEST_REDIS_URL") ?? "redis://127.0.0.1:6379";
export const JWT_SECRET = "test-secret-test-secret-test-secret-0123";

/** Per-user and per-IP limits high enough that only the tests of those limits meet them. */
export const GENEROUS_LIMITS: Record<string, string> = {
  TRADE_RATE: "100000",
  USER_RATE: "100000",
  SIGNUP_RATE: "100000",
  WS_MAX_PER_IP: "100000",
};

export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns a value other than undefined/false, or fails after timeoutMs. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as T;
    } catch (error) {
      last = error;
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ""}`);
}

export interface Proc {
  name: string;
  child: Deno.ChildProcess;
  output: string[];
  kill(signal?: Deno.Signal): Promise<void>;
}

/** The variables a spawned process keeps from ours, out of an otherwise cleared environment. */
const NETWORK_ENV = [
  "NODE_EXTRA_CA_CERTS",
  "DENO_CERT",
  "DENO_TLS_CA_STORE",
  "HTTPS_PROXY",
  "HTTP_PROXY",
  "NO_PROXY",
  "https_proxy",
  "http_proxy",
  "no_proxy",
  "NPM_CONFIG_REGISTRY",
];

export class Env {
  readonly processes: Proc[] = [];
  readonly env: Record<string, string>;
  readonly redis: Redis;
  readonly sql: postgres.Sql;
  private readonly ownsDatabase: boolean;
  private constructor(
    readonly dbName: string,
    readonly redisDb: number,
    readonly ports: {
      api: number;
      gateway: number;
      sim: number;
      engineMetrics: number;
      pollerMetrics: number;
      apiMetrics: number;
      gatewayMetrics: number;
    },
    extraEnv: Record<string, string>,
  ) {
    const databaseUrl = extraEnv.DATABASE_URL ?? withDatabase(ADMIN_DB, dbName);
    this.env = {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: Deno.env.get("HOME") ?? "/root",
      DENO_DIR: Deno.env.get("DENO_DIR") ?? "",
      REDIS_URL: extraEnv.REDIS_URL ?? `${REDIS_BASE}/${redisDb}`,
      DATABASE_URL: databaseUrl,
      JWT_SECRET,
      API_PORT: String(ports.api),
      GATEWAY_PORT: String(ports.gateway),
      SIM_PORT: String(ports.sim),
      ENGINE_METRICS_PORT: String(ports.engineMetrics),
      POLLER_METRICS_PORT: String(ports.pollerMetrics),
      API_METRICS_PORT: String(ports.apiMetrics),
      GATEWAY_METRICS_PORT: String(ports.gatewayMetrics),
      BIND_HOST: "127.0.0.1",
      // Tests drive many users and trades from one IP: the limits' own tests set them low.
      ...GENEROUS_LIMITS,
      FEED: "sim",
      SIM_RATE: "20",
      LOG_LEVEL: "info",
      ...extraEnv,
    };
    if (!this.env.DENO_DIR) delete this.env.DENO_DIR;
    // How this machine reaches the npm registry (a proxy, an intercepting proxy's CA): the
    // gateway's `deno bundle` may have to fetch esbuild.
    for (const name of NETWORK_ENV) {
      const value = Deno.env.get(name);
      if (value !== undefined && this.env[name] === undefined) this.env[name] = value;
    }
    this.redis = new Redis(this.env.REDIS_URL!, { maxRetriesPerRequest: 1 });
    this.redis.on("error", () => {}); // outage tests stop Redis on purpose
    this.sql = postgres(databaseUrl, { onnotice: () => {}, max: 2 });
    this.ownsDatabase = extraEnv.DATABASE_URL === undefined;
  }

  /** A DATABASE_URL in `extraEnv` is used as it is (a private server); else a new database. */
  static async create(extraEnv: Record<string, string> = {}): Promise<Env> {
    const dbName = `t_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
    if (extraEnv.DATABASE_URL === undefined) {
      const admin = postgres(ADMIN_DB, { onnotice: () => {}, max: 1 });
      await admin.unsafe(`CREATE DATABASE ${dbName}`);
      await admin.end();
    }
    const redisDb = 1 + Math.floor(Math.random() * 15);
    // A REDIS_URL in extraEnv (a private server) is used as it is.
    const ports = {
      api: freePort(),
      gateway: freePort(),
      sim: freePort(),
      engineMetrics: freePort(),
      pollerMetrics: freePort(),
      apiMetrics: freePort(),
      gatewayMetrics: freePort(),
    };
    const env = new Env(dbName, redisDb, ports, extraEnv);
    await env.redis.flushdb();
    return env;
  }

  get api(): string {
    return `http://127.0.0.1:${this.ports.api}/api/v1`;
  }

  /** Spawns `deno run -A <script>`; its output is kept for assertions and failure reports. */
  spawn(
    name: string,
    script: string,
    extraEnv: Record<string, string> = {},
    args: string[] = [],
  ): Proc {
    // CPU_PROF=api,engine (benchmarks): those processes write a V8 CPU profile on exit.
    const role = name.split(":")[0]!;
    const profile = (Deno.env.get("CPU_PROF") ?? "").split(",").includes(role)
      ? ["--cpu-prof", `--cpu-prof-dir=${ROOT}bench/results/profiles/${role}`]
      : [];
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", ...profile, script, ...args],
      cwd: ROOT,
      env: { ...this.env, ...extraEnv },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output: string[] = [];
    const collect = async (stream: ReadableStream<Uint8Array>) => {
      const decoder = new TextDecoderStream();
      let buffer = "";
      for await (const chunk of stream.pipeThrough(decoder)) {
        buffer += chunk;
        const lines = buffer.split("\n");
        buffer = lines.pop()!;
        output.push(...lines);
      }
      if (buffer) output.push(buffer);
    };
    collect(child.stdout);
    collect(child.stderr);
    const proc: Proc = {
      name,
      child,
      output,
      async kill(signal: Deno.Signal = "SIGTERM") {
        try {
          child.kill(signal);
        } catch {
          // already exited
        }
        await child.status;
      },
    };
    this.processes.push(proc);
    return proc;
  }

  async startSim(extraEnv: Record<string, string> = {}): Promise<Proc> {
    const sim = this.spawn("sim", "poller/sim_main.ts", extraEnv);
    await eventually("simulator", () => sim.output.some((l) => l.includes("simulator listening")));
    return sim;
  }

  async startEngine(extraEnv: Record<string, string> = {}): Promise<Proc> {
    const engine = this.spawn("engine", "engine/main.ts", extraEnv);
    // "serving": caught up, and its configuration (a `configure` entry) applied.
    await eventually("engine", () => engine.output.some((l) => l.includes('"serving"')));
    return engine;
  }

  async startApi(extraEnv: Record<string, string> = {}, port = this.ports.api): Promise<Proc> {
    const api = this.spawn(`api:${port}`, "api/main.ts", { API_PORT: String(port), ...extraEnv });
    await eventually(
      "api",
      async () => (await fetch(`http://127.0.0.1:${port}/api/v1/supportedAssets`).then((r) =>
        r.body?.cancel().then(() => r.ok)
      )),
    );
    return api;
  }

  async startGateway(extraEnv: Record<string, string> = {}): Promise<Proc> {
    const gateway = this.spawn("gateway", "gateway/main.ts", extraEnv);
    await eventually("gateway", () => gateway.output.some((l) => l.includes("gateway listening")));
    return gateway;
  }

  startPoller(): Proc {
    return this.spawn("poller", "poller/main.ts");
  }

  /** Everything for a full system: sim, engine, api, poller, gateway. */
  async startAll(): Promise<void> {
    await this.startSim();
    await this.startEngine();
    await this.startApi();
    this.startPoller();
    await this.startGateway();
  }

  /** Pins the simulator's quote for a market (the walk stops for it). */
  async setPrice(market: string, bid: string, ask: string): Promise<void> {
    const response = await fetch(`http://127.0.0.1:${this.ports.sim}/control`, {
      method: "POST",
      body: JSON.stringify({ market, bid, ask }),
    });
    if (!response.ok) throw new Error(`sim control: ${await response.text()}`);
    await response.body?.cancel();
  }

  /** Every process's output, each line tagged with its name; the last `tail` lines of each. */
  logs(tail = Infinity): string {
    return this.processes.map((p) =>
      p.output.slice(-tail).map((l) => `[${p.name}] ${tail === Infinity ? l : l.slice(0, 400)}`)
        .join("\n")
    ).join("\n");
  }

  async close(): Promise<void> {
    // A profile is written only by a process that exits on its own (SIGINT runs its shutdown).
    if (Deno.env.get("CPU_PROF")) await Promise.all(this.processes.map((p) => p.kill("SIGINT")));
    await Promise.all(this.processes.map((p) => p.kill("SIGKILL")));
    this.redis.disconnect();
    await this.sql.end({ timeout: 1 });
    if (!this.ownsDatabase) return;
    const admin = postgres(ADMIN_DB, { onnotice: () => {}, max: 1 });
    await admin.unsafe(`DROP DATABASE IF EXISTS ${this.dbName} WITH (FORCE)`);
    await admin.end();
  }
}

/** Runs `body` with a fresh environment, adding the processes' logs to its error if it fails. */
export async function withEnv(
  extraEnv: Record<string, string>,
  body: (env: Env) => Promise<void>,
): Promise<void> {
  const env = await Env.create(extraEnv);
  try {
    await body(env);
  } catch (error) {
    // In the error itself, so the logs land in the failure summary at the end of the output
    // (all a truncated CI log may keep), not only in the test's own output far above it.
    const logs = env.logs(12);
    if (error instanceof Error) error.message += `\n--- last process logs ---\n${logs}`;
    else console.error(logs);
    throw error;
  } finally {
    await env.close();
  }
}

export interface HttpResult<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

export async function http<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; token?: string; headers?: Record<string, string>; raw?: string } = {},
): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined || options.raw !== undefined) {
    headers["content-type"] ??= "application/json";
  }
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(base + path, {
    method,
    headers,
    body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: body as T, headers: response.headers };
}

/** Every open position of a user, read page by page (`/trades/open` pages at 500 at most). */
export async function allOpenTrades<T = { orderId: string }>(
  base: string,
  token: string,
): Promise<T[]> {
  const trades: T[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? "?limit=500" : `?limit=500&cursor=${cursor}`;
    const page = await http<{ trades: T[]; nextCursor: string | null }>(
      base,
      "GET",
      `/trades/open${query}`,
      { token },
    );
    if (page.status !== 200) throw new Error(`/trades/open: ${page.status}`);
    trades.push(...page.body.trades);
    cursor = page.body.nextCursor;
  } while (cursor !== null);
  return trades;
}

/** Signs a new user up and in; returns its id and token. */
export async function newUser(
  base: string,
): Promise<{ userId: string; token: string; email: string }> {
  const email = `user-${crypto.randomUUID()}@example.com`;
  const signup = await http<{ userId: string }>(base, "POST", "/signup", {
    body: { email, password: "correct horse battery" },
  });
  if (signup.status !== 201) {
    throw new Error(`signup: ${signup.status} ${JSON.stringify(signup.body)}`);
  }
  const signin = await http<{ token: string }>(base, "POST", "/signin", {
    body: { email, password: "correct horse battery" },
  });
  if (signin.status !== 200) throw new Error(`signin: ${signin.status}`);
  return { userId: signup.body.userId, token: signin.body.token, email };
}

/** A WebSocket client that records every message. */
export class WsClient {
  readonly messages: Array<Record<string, unknown>> = [];
  closeCode: number | undefined;
  private constructor(readonly socket: WebSocket) {}

  static async connect(url: string): Promise<WsClient> {
    const socket = new WebSocket(url);
    const client = new WsClient(socket);
    socket.onmessage = (event) => client.messages.push(JSON.parse(String(event.data)));
    socket.onclose = (event) => client.closeCode = event.code;
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = reject;
    });
    return client;
  }

  send(message: unknown): void {
    this.socket.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  orders(): Array<Record<string, unknown>> {
    return this.messages.filter((m) => m.type === "order");
  }

  close(): void {
    this.socket.close();
  }
}
