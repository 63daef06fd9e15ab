/**
 * `deno task start` / `demo` / `start:<member>`: finds or starts Redis and Postgres, then runs
 * the processes under a small supervisor that restarts a crashed child with backoff and stops
 * everything on SIGINT/SIGTERM.
 */
import { createLogger } from "@trading/shared/log";
import { EXIT_FATAL } from "@trading/shared/process";
import { resolvePostgres, resolveRedis, type Service, ServiceError } from "./services.ts";

const MEMBERS = ["engine", "api", "poller", "gateway"] as const;
const root = new URL("../", import.meta.url).pathname;
const log = createLogger("supervisor", (Deno.env.get("LOG_LEVEL") as "info") ?? "info");

const demo = Deno.args.includes("--demo");
const only = Deno.args.find((arg) => (MEMBERS as readonly string[]).includes(arg));
const env: Record<string, string> = { ...Deno.env.toObject() };
if (demo) {
  env.FEED ??= "sim";
  env.DEV ??= "1";
}
if (env.JWT_SECRET === undefined && env.DEV !== "1" && env.DEV !== "true") {
  console.error("JWT_SECRET is required (at least 32 bytes), or set DEV=1 for a local demo.");
  Deno.exit(2);
}

const services: Service[] = [];
try {
  const redis = await resolveRedis(env.REDIS_URL, log, { ownServer: demo });
  services.push(redis);
  env.REDIS_URL = redis.url;
  const postgres = await resolvePostgres(env.DATABASE_URL, log);
  services.push(postgres);
  env.DATABASE_URL = postgres.url;
} catch (error) {
  console.error(error instanceof ServiceError ? error.message : `cannot start services: ${error}`);
  for (const service of services) await service.stop();
  Deno.exit(1);
}

interface Child {
  name: string;
  script: string;
  process?: Deno.ChildProcess;
  startedAtMs: number;
  failures: number;
}

const children: Child[] = [];
const wanted = only ? [only] : [...MEMBERS];
if (env.FEED === "sim" && (only === undefined || only === "poller")) {
  children.push({ name: "sim", script: "poller/sim_main.ts", startedAtMs: 0, failures: 0 });
}
for (const name of wanted) {
  children.push({ name, script: `${name}/main.ts`, startedAtMs: 0, failures: 0 });
}
let stopping = false;

function spawn(child: Child): void {
  child.startedAtMs = Date.now();
  child.process = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", child.script],
    cwd: root,
    env,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  child.process.status.then((status) => {
    if (stopping) return;
    if (status.code === EXIT_FATAL) {
      // The child's own words say why (e.g. a gap in engine:input): a restart cannot fix it.
      log.error("child failed fatally; not restarting it", { child: child.name });
      return;
    }
    if (Date.now() - child.startedAtMs > 30_000) child.failures = 0;
    const delayMs = Math.min(500 * 2 ** child.failures, 10_000);
    child.failures++;
    log.warn("child exited; restarting", { child: child.name, code: status.code, delayMs });
    setTimeout(() => !stopping && spawn(child), delayMs);
  });
}

for (const child of children) spawn(child);
log.info("started", {
  children: children.map((c) => c.name),
  api: only === undefined || only === "api"
    ? `http://127.0.0.1:${env.API_PORT ?? 3000}/api/v1`
    : undefined,
  gateway: only === undefined || only === "gateway"
    ? `ws://127.0.0.1:${env.GATEWAY_PORT ?? 3001}/ws`
    : undefined,
  page: only === undefined || only === "gateway"
    ? `http://localhost:${env.GATEWAY_PORT ?? 3001}/`
    : undefined,
  feed: env.FEED ?? "backpack",
});

async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info("stopping", { signal });
  for (const child of children) {
    try {
      child.process?.kill("SIGTERM");
    } catch {
      // already gone
    }
  }
  const all = Promise.all(children.map((c) => c.process?.status));
  const timeout = new Promise((resolve) => setTimeout(resolve, 5000));
  await Promise.race([all, timeout]);
  for (const child of children) {
    try {
      child.process?.kill("SIGKILL");
    } catch {
      // exited in time
    }
  }
  for (const service of services.reverse()) await service.stop().catch(() => {});
  log.info("stopped");
  Deno.exit(0);
}
Deno.addSignalListener("SIGINT", () => shutdown("SIGINT"));
Deno.addSignalListener("SIGTERM", () => shutdown("SIGTERM"));
