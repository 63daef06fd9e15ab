/**
 * The real processes, spawned with `deno run` against a private Redis database (or, in cluster
 * mode, a private Redis Cluster) and a fresh Postgres database, each waited on by its ready line:
 * the one JSON log line with `"ready":true` that every process writes once, when it serves (or,
 * for the API, by an HTTP endpoint).
 */
import { Cluster, Redis } from "ioredis";
import postgres from "postgres";
import { withDatabase } from "@trading/shared/db";
import { parseClusterNodes, type RedisClusterHandle, startRedisCluster } from "./redis_cluster.ts";
import { eventually, freePort } from "./wait.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const ADMIN_DB = Deno.env.get("TEST_ADMIN_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/postgres";
const REDIS_BASE = Deno.env.get("TEST_REDIS_URL") ?? "redis://127.0.0.1:6379";
/**
 * A Redis Cluster every Env uses unless told otherwise (`deno task bench --cluster` sets it for
 * its sections); its masters are flushed by each Env, so never point it at data you keep.
 */
const TEST_CLUSTER_NODES = Deno.env.get("TEST_REDIS_CLUSTER_NODES");
export const JWT_SECRET = "test-secret-test-secret-test-secret-0123";

/** Per-user and per-IP limits high enough that only the tests of those limits meet them. */
export const GENEROUS_LIMITS: Record<string, string> = {
  TRADE_RATE: "100000",
  USER_RATE: "100000",
  SIGNUP_RATE: "100000",
  WS_MAX_PER_IP: "100000",
};

export type LogRecord = Record<string, unknown>;

/** The JSON log lines among `lines`, parsed; other lines are skipped. */
export function logRecords(lines: readonly string[]): LogRecord[] {
  const records: LogRecord[] = [];
  for (const line of lines) {
    if (!line.startsWith("{")) continue;
    try {
      records.push(JSON.parse(line));
    } catch {
      // not a whole JSON line
    }
  }
  return records;
}

/** A process's ready line (`"ready":true`, of `service` when given), if it has written it. */
export function readyRecord(lines: readonly string[], service?: string): LogRecord | undefined {
  // The text test only skips lines cheaply: the parsed field decides.
  return logRecords(lines.filter((line) => line.includes('"ready":true'))).find((record) =>
    record.ready === true && (service === undefined || record.service === service)
  );
}

export interface Proc {
  name: string;
  child: Deno.ChildProcess;
  output: string[];
  /** Its ready line, once it has written it (`"ready":true`: it serves). */
  ready(): LogRecord | undefined;
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

export interface EnvOptions {
  /**
   * Runs against a private Redis Cluster instead of a database of the shared Redis: `true` (3
   * masters) or `{ masters }`. It is started by `create` and destroyed by `close`; the processes
   * get its REDIS_CLUSTER_NODES and no REDIS_URL, and `redis` is a Cluster client of it.
   */
  cluster?: boolean | { masters?: number };
}

/** Empties every master of a cluster (FLUSHDB goes to one node only). */
async function flushCluster(redis: Cluster): Promise<void> {
  await redis.ping(); // ready: the nodes are known
  await Promise.all(redis.nodes("master").map((node) => node.flushdb()));
}

export class Env {
  readonly processes: Proc[] = [];
  readonly env: Record<string, string>;
  /**
   * A Cluster client when the processes use a cluster (the `cluster` option, or
   * REDIS_CLUSTER_NODES in `extraEnv`); else a client of the private database.
   */
  readonly redis: Redis | Cluster;
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
    /** The private cluster of the `cluster` option, destroyed by `close`. */
    readonly redisCluster: RedisClusterHandle | undefined,
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
    const clusterNodes = redisCluster?.nodes ?? extraEnv.REDIS_CLUSTER_NODES;
    if (clusterNodes !== undefined) {
      this.env.REDIS_CLUSTER_NODES = clusterNodes;
      if (extraEnv.REDIS_URL === undefined) delete this.env.REDIS_URL;
    }
    // How this machine reaches the npm registry (a proxy, an intercepting proxy's CA): the
    // gateway's `deno bundle` may have to fetch esbuild.
    for (const name of NETWORK_ENV) {
      const value = Deno.env.get(name);
      if (value !== undefined && this.env[name] === undefined) this.env[name] = value;
    }
    this.redis = clusterNodes === undefined
      ? new Redis(this.env.REDIS_URL!, { maxRetriesPerRequest: 1 })
      : new Cluster(parseClusterNodes(clusterNodes), { redisOptions: { maxRetriesPerRequest: 1 } });
    this.redis.on("error", () => {}); // outage tests stop Redis on purpose
    this.sql = postgres(databaseUrl, { onnotice: () => {}, max: 2 });
    this.ownsDatabase = extraEnv.DATABASE_URL === undefined;
  }

  /**
   * A DATABASE_URL in `extraEnv` is used as it is (a private server); else a new database. So is
   * a REDIS_URL (a private server: its database is flushed), or a REDIS_CLUSTER_NODES (a cluster
   * of the caller's: every master is flushed). `options.cluster`: a private cluster (see
   * EnvOptions), which then may not be given either of those.
   */
  static async create(
    given: Record<string, string> = {},
    options: EnvOptions = {},
  ): Promise<Env> {
    const extraEnv = TEST_CLUSTER_NODES === undefined || options.cluster ||
        given.REDIS_URL !== undefined || given.REDIS_CLUSTER_NODES !== undefined
      ? given
      : { ...given, REDIS_CLUSTER_NODES: TEST_CLUSTER_NODES };
    if (
      options.cluster &&
      (extraEnv.REDIS_URL !== undefined || extraEnv.REDIS_CLUSTER_NODES !== undefined)
    ) {
      throw new Error(
        "Env.create: the cluster option starts its own cluster; no REDIS_URL or " +
          "REDIS_CLUSTER_NODES in extraEnv with it",
      );
    }
    const cluster = options.cluster
      ? await startRedisCluster(options.cluster === true ? {} : options.cluster)
      : undefined;
    let env: Env | undefined;
    try {
      const dbName = `t_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
      if (extraEnv.DATABASE_URL === undefined) {
        const admin = postgres(ADMIN_DB, { onnotice: () => {}, max: 1 });
        await admin.unsafe(`CREATE DATABASE ${dbName}`);
        await admin.end();
      }
      // A cluster has only database 0.
      const redisDb = cluster || extraEnv.REDIS_CLUSTER_NODES !== undefined
        ? 0
        : 1 + Math.floor(Math.random() * 15);
      const ports = {
        api: freePort(),
        gateway: freePort(),
        sim: freePort(),
        engineMetrics: freePort(),
        pollerMetrics: freePort(),
        apiMetrics: freePort(),
        gatewayMetrics: freePort(),
      };
      env = new Env(dbName, redisDb, ports, extraEnv, cluster);
      if (!(env.redis instanceof Cluster)) await env.redis.flushdb();
      // A private cluster is fresh; a caller's is emptied on every master.
      else if (cluster === undefined) await flushCluster(env.redis);
      return env;
    } catch (error) {
      if (env) await env.close().catch(() => {});
      else await cluster?.destroy();
      throw error;
    }
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
      ready: () => readyRecord(output),
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
    await eventually("simulator", () => sim.ready());
    return sim;
  }

  async startEngine(extraEnv: Record<string, string> = {}): Promise<Proc> {
    const engine = this.spawn("engine", "engine/main.ts", extraEnv);
    // Ready: caught up, and its configuration (a `configure` entry) applied.
    await eventually("engine", () => engine.ready());
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
    await eventually("gateway", () => gateway.ready());
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
    await this.redisCluster?.destroy();
    await this.sql.end({ timeout: 1 });
    if (!this.ownsDatabase) return;
    const admin = postgres(ADMIN_DB, { onnotice: () => {}, max: 1 });
    await admin.unsafe(`DROP DATABASE IF EXISTS ${this.dbName} WITH (FORCE)`);
    await admin.end();
  }
}
