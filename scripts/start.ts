/**
 * `deno task start` / `demo` / `start:<member>`: finds or starts Redis and Postgres, then runs
 * the processes under a small supervisor that restarts a crashed child with backoff and stops
 * everything on SIGINT/SIGTERM: the children first, then Postgres, then Redis.
 *
 * The demo (`--demo`) prices from the simulator (FEED=sim), listens on 127.0.0.1 only
 * (BIND_HOST) and, without JWT_SECRET, signs tokens with a random secret made once per DATA_DIR
 * and kept there (DATA_DIR/jwt-secret, mode 0600), so tokens outlive a restart. `start` takes
 * JWT_SECRET from the environment and listens on BIND_HOST (0.0.0.0 by default).
 */
import { ConfigError, parseConfig } from "@trading/shared/config";
import { createLogger } from "@trading/shared/log";
import { EXIT_FATAL } from "@trading/shared/process";
import { DATA_DIR, resolvePostgres, resolveRedis, type Service, ServiceError } from "./services.ts";

const MEMBERS = ["engine", "api", "poller", "gateway"] as const;
const root = new URL("../", import.meta.url).pathname;
const log = createLogger("supervisor", (Deno.env.get("LOG_LEVEL") as "info") ?? "info");

const demo = Deno.args.includes("--demo");
const only = Deno.args.find((arg) => (MEMBERS as readonly string[]).includes(arg));
const wanted: string[] = only ? [only] : [...MEMBERS];
const env: Record<string, string> = { ...Deno.env.toObject() };
// The processes that sign or verify tokens.
const needsSecret = wanted.includes("api") || wanted.includes("gateway");

/** DATA_DIR/jwt-secret: 32 random bytes in hex, made on first use, then read. */
async function demoSecret(): Promise<string> {
  const path = `${DATA_DIR}jwt-secret`;
  await Deno.mkdir(DATA_DIR, { recursive: true });
  for (;;) {
    try {
      const secret = (await Deno.readTextFile(path)).trim();
      if (new TextEncoder().encode(secret).length < 32) {
        throw new ServiceError(
          `${path} holds no usable JWT secret (at least 32 bytes): delete it to make a new one`,
        );
      }
      if (((await Deno.stat(path)).mode ?? 0) & 0o077) await Deno.chmod(path, 0o600);
      return secret;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    // Written whole aside, then linked into place: the file is whole or absent, and of two
    // starts at once, one makes it and both read it.
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    const secret = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    const partial = `${path}.${Deno.pid}.partial`;
    await Deno.writeTextFile(partial, `${secret}\n`, { mode: 0o600 });
    await Deno.chmod(partial, 0o600);
    try {
      await Deno.link(partial, path);
      log.info("made a JWT secret for the demo", { file: path });
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    } finally {
      await Deno.remove(partial).catch(() => {});
    }
  }
}

if (demo) {
  // An empty variable is unset, as the config reads it.
  if (!env.FEED) env.FEED = "sim";
  if (!env.BIND_HOST) env.BIND_HOST = "127.0.0.1";
  if (!env.JWT_SECRET) {
    try {
      env.JWT_SECRET = await demoSecret();
    } catch (error) {
      console.error(
        error instanceof ServiceError
          ? error.message
          : `cannot keep a JWT secret in ${DATA_DIR}: ${error}`,
      );
      Deno.exit(2);
    }
  }
}
if (needsSecret && !env.JWT_SECRET) {
  console.error(
    "JWT_SECRET is required (at least 32 bytes), e.g. JWT_SECRET=$(openssl rand -hex 32); " +
      "`deno task demo` makes one.",
  );
  Deno.exit(2);
}
// A bad variable stops every child at start, and a restart cannot fix it: say it once here.
try {
  parseConfig(env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  Deno.exit(2);
}

const services: Service[] = [];
try {
  // With REDIS_CLUSTER_NODES every child uses that cluster: no Redis of our own is started.
  if (!env.REDIS_CLUSTER_NODES) {
    const redis = await resolveRedis(env.REDIS_URL, log, { ownServer: demo });
    services.push(redis);
    env.REDIS_URL = redis.url;
  }
  const postgres = await resolvePostgres(env.DATABASE_URL, log);
  services.push(postgres);
  env.DATABASE_URL = postgres.url;
} catch (error) {
  console.error(error instanceof ServiceError ? error.message : `cannot start services: ${error}`);
  for (const service of services.reverse()) await service.stop();
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
    if (stopping) {
      log.info("child stopped", { child: child.name, code: status.code, signal: status.signal });
      return;
    }
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
const host = env.BIND_HOST || "0.0.0.0";
const shown = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
log.info("started", {
  children: children.map((c) => c.name),
  api: only === undefined || only === "api"
    ? `http://${shown}:${env.API_PORT || 3000}/api/v1`
    : undefined,
  gateway: only === undefined || only === "gateway"
    ? `ws://${shown}:${env.GATEWAY_PORT || 3001}/ws`
    : undefined,
  page: only === undefined || only === "gateway"
    ? `http://localhost:${env.GATEWAY_PORT || 3001}/`
    : undefined,
  bindHost: host,
  feed: env.FEED || "backpack",
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
  await all;
  // Postgres, then Redis: both run in process groups of their own, so a Ctrl-C in the terminal
  // reaches only the children, and the services outlive their last write.
  for (const service of services.reverse()) await service.stop().catch(() => {});
  log.info("stopped");
  Deno.exit(0);
}
Deno.addSignalListener("SIGINT", () => shutdown("SIGINT"));
Deno.addSignalListener("SIGTERM", () => shutdown("SIGTERM"));
