/**
 * `deno task demo` / `start` as processes (scripts/start.ts), against real redis-server and
 * Postgres: the demo's JWT secret per DATA_DIR, BIND_HOST, the order of a Ctrl-C stop, and the
 * embedded Postgres from a DATA_DIR under a 0700 folder (where, as root, the postgres user
 * cannot reach).
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { withDatabase } from "@trading/shared/db";
import { ENGINE_LOCK_KEY } from "../engine/io/lock.ts";
import {
  EMBEDDED_PG_HOME,
  removeDataDir,
  spawnRedisServer,
  waitForPort,
} from "../scripts/services.ts";
import { eventually, freePort, http, sleep } from "./harness.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const ADMIN_DB = Deno.env.get("TEST_ADMIN_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/postgres";

type Record_ = Record<string, unknown>;

/** scripts/start.ts in a process group of its own (as a terminal runs it), output kept. */
class Supervisor {
  readonly lines: string[] = [];
  readonly #done: Promise<void>;
  private constructor(readonly child: Deno.ChildProcess) {
    const collect = async (stream: ReadableStream<Uint8Array>) => {
      let buffer = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        const lines = buffer.split("\n");
        buffer = lines.pop()!;
        this.lines.push(...lines);
      }
      if (buffer) this.lines.push(buffer);
    };
    this.#done = Promise.all([collect(child.stdout), collect(child.stderr)]).then(() => {});
  }

  /** `cwd`: where it is started from (the clone by default, as `deno task` does). */
  static start(args: string[], env: Record<string, string>, cwd = ROOT): Supervisor {
    return new Supervisor(
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${ROOT}scripts/start.ts`, ...args],
        cwd,
        env: {
          PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
          HOME: Deno.env.get("HOME") ?? "/root",
          ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
          LOG_LEVEL: "info",
          ...env,
        },
        clearEnv: true,
        detached: true, // its own process group: `kill -INT -PGID` is a terminal's Ctrl-C
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn(),
    );
  }

  /** The JSON log lines, parsed. */
  records(): Record_[] {
    return this.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  }

  find(where: (r: Record_) => boolean): Record_ | undefined {
    return this.records().find(where);
  }

  waitFor(what: string, where: (r: Record_) => boolean, timeoutMs = 30_000): Promise<Record_> {
    return eventually(what, () => this.find(where), timeoutMs).catch((error) => {
      throw new Error(`${error.message}\n${this.lines.slice(-30).join("\n")}`);
    });
  }

  /** The pid of the child running `script` (e.g. "api/main.ts"). */
  async childPid(script: string): Promise<number> {
    const lines = (await output("ps", ["-o", "pid=,args=", "--ppid", String(this.child.pid)]))
      .split("\n");
    const found = lines.find((line) => line.split(/\s+/).includes(script));
    if (found === undefined) throw new Error(`no child runs ${script}:\n${lines.join("\n")}`);
    return Number(found.trim().split(/\s+/)[0]);
  }

  /** Its exit status, or a failure with its last lines if it has not exited in `timeoutMs`. */
  async exit(timeoutMs = 30_000): Promise<Deno.CommandStatus> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const status = await Promise.race([
        this.child.status,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`still running:\n${this.lines.slice(-30).join("\n")}`)),
            timeoutMs,
          );
        }),
      ]);
      await this.#done;
      return status;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops it with `signal`, to it alone or (as Ctrl-C does) to its whole process group. */
  async stop(signal: Deno.Signal = "SIGTERM", group = false): Promise<Deno.CommandStatus> {
    Deno.kill(group ? -this.child.pid : this.child.pid, signal);
    return await this.exit(20_000);
  }

  /** Whatever is left of it and its group, after a failure. */
  kill(): void {
    try {
      Deno.kill(-this.child.pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

/**
 * A command's output. /proc is read through `ps`, `cat` and `readlink`: Deno lets only
 * --allow-all read it, and `deno task test` grants the permissions one by one.
 */
async function output(command: string, args: string[]): Promise<string> {
  const result = await new Deno.Command(command, { args, stderr: "null" }).output();
  return new TextDecoder().decode(result.stdout);
}

async function environOf(pid: number): Promise<Record<string, string>> {
  const text = await output("cat", [`/proc/${pid}/environ`]);
  return Object.fromEntries(
    text.split("\0").filter(Boolean).map((kv) => [
      kv.slice(0, kv.indexOf("=")),
      kv.slice(kv.indexOf("=") + 1),
    ]),
  );
}

/** The IPv4 address a socket listens on at `port` ("127.0.0.1", "0.0.0.0"), from the kernel. */
async function listeningOn(port: number): Promise<string | undefined> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  for (const line of (await output("cat", ["/proc/net/tcp"])).split("\n").slice(1)) {
    const [, local, , state] = line.trim().split(/\s+/);
    if (state !== "0A" || !local?.endsWith(`:${hexPort}`)) continue; // 0A: LISTEN
    const hex = local.split(":")[0]!;
    return [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(".");
  }
  return undefined;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** Running (not gone, not a zombie). */
async function alive(pid: number): Promise<boolean> {
  const state = (await output("ps", ["-o", "stat=", "-p", String(pid)])).trim();
  return state !== "" && !state.startsWith("Z");
}

async function killIfAlive(pid: number | undefined) {
  if (pid !== undefined && await alive(pid)) Deno.kill(pid, "SIGKILL");
}

/** A new database on the test Postgres (as tests/harness.ts makes them), dropped after. */
async function withFreshDatabase(body: (url: string) => Promise<void>): Promise<void> {
  const name = `t_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres(ADMIN_DB, { onnotice: () => {}, max: 1 });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  try {
    await body(withDatabase(ADMIN_DB, name));
  } finally {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

/** Ports of their own for every listener, so that no test meets another's. */
function ports(): Record<string, string> {
  return Object.fromEntries(
    [
      "API_PORT",
      "GATEWAY_PORT",
      "SIM_PORT",
      "ENGINE_METRICS_PORT",
      "POLLER_METRICS_PORT",
      "API_METRICS_PORT",
      "GATEWAY_METRICS_PORT",
      "DEMO_REDIS_PORT",
      "DEMO_PG_PORT",
    ].map((name) => [name, String(freePort())]),
  );
}

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "trading-supervisor-" }); // 0700
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

const started = (r: Record_) => r.service === "supervisor" && r.msg === "started";
const redisStarted = (r: Record_) => r.msg === "started a private redis-server (AOF on)";

Deno.test("deno task start requires JWT_SECRET for the API and the gateway, clearly", async () => {
  // Each stops before looking for Redis or Postgres (none is reachable at these addresses).
  const unreachable = {
    REDIS_URL: "redis://127.0.0.1:1",
    DATABASE_URL: "postgres://postgres@127.0.0.1:1/none",
  };
  const runs: Supervisor[] = [];
  const expectRefusal = async (args: string[], env: Record<string, string>, says: RegExp) => {
    const run = Supervisor.start(args, { ...unreachable, ...env });
    runs.push(run);
    const status = await run.exit(10_000);
    assert.equal(status.code, 2, run.lines.join("\n"));
    assert.match(run.lines.join("\n"), says);
  };
  try {
    for (const args of [["api"], ["gateway"], []]) {
      await expectRefusal(args, {}, /JWT_SECRET is required \(at least 32 bytes\)/);
    }
    await expectRefusal(["api"], { JWT_SECRET: "too-short" }, /JWT_SECRET must be at least 32/);
    await expectRefusal(["api"], { DEV: "1" }, /JWT_SECRET is required/); // DEV is no more
  } finally {
    for (const run of runs) run.kill();
  }
});

Deno.test("the demo makes a JWT secret once per DATA_DIR, keeps it (0600) and passes it on", async () => {
  await withFreshDatabase(async (databaseUrl) => {
    await withTempDir(async (tmp) => {
      const env: Record<string, string> = { ...ports(), DATABASE_URL: databaseUrl };
      const api = `http://127.0.0.1:${env.API_PORT}/api/v1`;
      const runs: Supervisor[] = [];
      let redisPid: number | undefined;
      /** `--demo api` in `dataDir` until the API answers; its child's environment. */
      const start = async (dataDir: string, extra: Record<string, string> = {}) => {
        const run = Supervisor.start(["--demo", "api"], { ...env, DATA_DIR: dataDir, ...extra });
        runs.push(run);
        redisPid = Number((await run.waitFor("redis", redisStarted)).pid);
        await run.waitFor("started", started);
        await eventually(
          "the API",
          () => http(api, "GET", "/supportedAssets").then((r) => r.status === 200),
        );
        return { run, childEnv: await environOf(await run.childPid("api/main.ts")) };
      };
      try {
        const dirA = `${tmp}/a`;
        const first = await start(dirA);
        const file = `${dirA}/jwt-secret`;
        const secret = (await Deno.readTextFile(file)).trim();
        assert.match(secret, /^[0-9a-f]{64}$/, "32 random bytes, in hex");
        assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
        assert.equal(first.childEnv.JWT_SECRET, secret, "the API signs with it");
        assert.equal(first.childEnv.BIND_HOST, "127.0.0.1", "the demo listens on loopback");
        assert.equal(await listeningOn(Number(env.API_PORT)), "127.0.0.1");
        assert.equal(first.childEnv.FEED, "sim");
        assert.equal(first.childEnv.DEV, undefined);
        assert.ok(first.run.find((r) => r.msg === "made a JWT secret for the demo"));

        const email = `user-${crypto.randomUUID()}@example.com`;
        const credentials = { email, password: "correct horse battery" };
        assert.equal((await http(api, "POST", "/signup", { body: credentials })).status, 201);
        const signin = await http<{ token: string }>(api, "POST", "/signin", { body: credentials });
        assert.equal(signin.status, 200);
        const token = signin.body.token;
        assert.equal((await http(api, "GET", "/trades", { token })).status, 200);
        assert.equal((await first.run.stop()).code, 0);
        assert.ok(!await alive(redisPid!), "its redis-server stopped with it");

        // Started again on the same DATA_DIR: the same secret, so the token still works.
        const second = await start(dirA);
        assert.equal((await Deno.readTextFile(file)).trim(), secret);
        assert.equal(second.childEnv.JWT_SECRET, secret);
        assert.ok(!second.run.find((r) => r.msg === "made a JWT secret for the demo"));
        assert.equal((await http(api, "GET", "/trades", { token })).status, 200);
        assert.equal((await second.run.stop()).code, 0);

        // Another DATA_DIR: another secret, and the token means nothing there.
        const dirB = `${tmp}/b`;
        const third = await start(dirB, { BIND_HOST: "0.0.0.0" });
        const other = (await Deno.readTextFile(`${dirB}/jwt-secret`)).trim();
        assert.match(other, /^[0-9a-f]{64}$/);
        assert.notEqual(other, secret);
        assert.equal(third.childEnv.JWT_SECRET, other);
        assert.equal(third.childEnv.BIND_HOST, "0.0.0.0", "a BIND_HOST given is kept");
        assert.equal(await listeningOn(Number(env.API_PORT)), "0.0.0.0");
        assert.equal((await http(api, "GET", "/trades", { token })).status, 401);
        assert.equal((await third.run.stop()).code, 0);

        // JWT_SECRET given: used as it is, nothing written.
        const given = "g".repeat(40);
        const fourth = await start(`${tmp}/c`, { JWT_SECRET: given });
        assert.equal(fourth.childEnv.JWT_SECRET, given);
        await assert.rejects(Deno.stat(`${tmp}/c/jwt-secret`), Deno.errors.NotFound);
        assert.equal((await fourth.run.stop()).code, 0);
      } finally {
        for (const run of runs) run.kill();
        await killIfAlive(redisPid);
      }
    });
  });
});

Deno.test("deno task start leaves BIND_HOST to its default and needs no secret for the engine", async () => {
  await withFreshDatabase(async (databaseUrl) => {
    await withTempDir(async (tmp) => {
      const redisPort = freePort();
      const redis = spawnRedisServer(redisPort, tmp);
      const env: Record<string, string> = {
        ...ports(),
        DATABASE_URL: databaseUrl,
        REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      };
      const runs: Supervisor[] = [];
      try {
        assert.ok(await waitForPort(redisPort, 5000));
        const api = Supervisor.start(["api"], { ...env, JWT_SECRET: "s".repeat(32) });
        runs.push(api);
        assert.equal((await api.waitFor("started", started)).bindHost, "0.0.0.0");
        const apiEnv = await environOf(await api.childPid("api/main.ts"));
        assert.equal(apiEnv.BIND_HOST, undefined, "the config's default (0.0.0.0) applies");
        await eventually("the API", async () => await listeningOn(Number(env.API_PORT)));
        assert.equal(await listeningOn(Number(env.API_PORT)), "0.0.0.0");
        assert.equal(apiEnv.FEED, undefined);
        assert.equal((await api.stop()).code, 0);

        const engine = Supervisor.start(["engine"], env);
        runs.push(engine);
        await engine.waitFor("engine ready", (r) => r.service === "engine" && r.ready === true);
        assert.equal(
          (await environOf(await engine.childPid("engine/main.ts"))).JWT_SECRET,
          undefined,
        );
        assert.equal((await engine.stop()).code, 0);
      } finally {
        for (const run of runs) run.kill();
        redis.kill("SIGKILL");
        await redis.status;
      }
    });
  });
});

Deno.test("Ctrl-C: the engine stops cleanly while Redis still runs; Redis stops last", async () => {
  await withFreshDatabase(async (databaseUrl) => {
    await withTempDir(async (dataDir) => {
      const env = { ...ports(), DATABASE_URL: databaseUrl, DATA_DIR: dataDir };
      const run = Supervisor.start(["--demo", "engine"], env);
      let redisPid: number | undefined;
      try {
        redisPid = Number((await run.waitFor("redis", redisStarted)).pid);
        await run.waitFor("engine ready", (r) => r.service === "engine" && r.ready === true);
        await sleep(500);

        // What a terminal does on Ctrl-C: SIGINT to every process of the foreground group.
        const status = await run.stop("SIGINT", true);
        assert.equal(status.code, 0, run.lines.join("\n"));
        const records = run.records();
        const engineLines = records.filter((r) => r.service === "engine");
        assert.ok(engineLines.some((r) => r.msg === "engine stopping"), run.lines.join("\n"));
        const redisTrouble = engineLines.filter((r) => /redis/i.test(String(r.msg)));
        assert.deepEqual(redisTrouble, [], "the engine never lost Redis");
        const stopped = records.find((r) => r.msg === "child stopped" && r.child === "engine");
        assert.equal(stopped?.code, 0, "the engine exited by itself, not killed");
        assert.equal(records.at(-1)?.msg, "stopped");
        assert.ok(!await alive(redisPid), "redis-server is gone");

        // The engine released its lease, so Redis was there for its last write.
        const port = freePort();
        const again = spawnRedisServer(port, `${dataDir}/redis`);
        try {
          assert.ok(await waitForPort(port, 5000));
          const cli = new Deno.Command("redis-cli", {
            args: ["-p", String(port), "GET", ENGINE_LOCK_KEY],
          });
          const held = new TextDecoder().decode((await cli.output()).stdout).trim();
          assert.equal(held, "", "the lease was released before Redis stopped");
        } finally {
          again.kill("SIGTERM");
          await again.status;
        }
      } finally {
        run.kill();
        await killIfAlive(redisPid);
      }
    });
  });
});

Deno.test("the demo's embedded Postgres works from a DATA_DIR under a 0700 folder", async () => {
  await withTempDir(async (tmp) => {
    assert.equal((await Deno.stat(tmp)).mode! & 0o777, 0o700);
    const dataDir = `${tmp}/data`;
    const env: Record<string, string> = { ...ports(), DATA_DIR: dataDir };
    const pgUrl = `postgres://postgres:postgres@127.0.0.1:${env.DEMO_PG_PORT}/trading`;
    const asRoot = Deno.uid() === 0;
    const runs: Supervisor[] = [];
    const pids: number[] = [];
    let cluster: string | undefined;
    const start = async () => {
      // From inside the 0700 folder, as from a clone there: the postgres user cannot enter it.
      const run = Supervisor.start(["--demo", "engine"], env, tmp);
      runs.push(run);
      const pg = await run.waitFor(
        "postgres",
        (r) => r.msg === "started a private embedded Postgres",
      );
      pids.push(Number(pg.pid), Number((await run.waitFor("redis", redisStarted)).pid));
      await run.waitFor("engine ready", (r) => r.service === "engine" && r.ready === true);
      return { run, pgPid: Number(pg.pid) };
    };
    const query = async (text: string) => {
      const sql = postgres(pgUrl, { onnotice: () => {}, max: 1 });
      try {
        return await sql.unsafe(text);
      } finally {
        await sql.end();
      }
    };
    try {
      const first = await start();
      if (asRoot) {
        // The cluster lives where the postgres user reaches it; DATA_DIR/pg links to it.
        assert.ok((await Deno.lstat(`${dataDir}/pg`)).isSymlink);
        cluster = await Deno.readLink(`${dataDir}/pg`);
        assert.ok(cluster.startsWith(`${EMBEDDED_PG_HOME}/data/`), cluster);
        assert.equal(
          (await Deno.readTextFile(`${cluster}.path`)).trim(),
          await Deno.realPath(dataDir),
        );
        // ... and so do the binaries, copied out of the clone.
        const exe = (await output("readlink", [`/proc/${first.pgPid}/exe`])).trim();
        assert.ok(exe.startsWith(`${EMBEDDED_PG_HOME}/bin/`), exe);
      } else {
        assert.ok((await Deno.stat(`${dataDir}/pg/PG_VERSION`)).isFile);
      }
      await query("CREATE TABLE kept (note text); INSERT INTO kept VALUES ('first run')");
      assert.equal((await first.run.stop("SIGINT", true)).code, 0);
      assert.ok(!await alive(first.pgPid), "Postgres stopped with the demo");

      // Started again: the same cluster, data kept.
      const second = await start();
      if (asRoot) assert.equal(await Deno.readLink(`${dataDir}/pg`), cluster);
      assert.deepEqual([...await query("SELECT note FROM kept")], [{ note: "first run" }]);
      assert.equal((await second.run.stop()).code, 0);

      // DATA_DIR deleted: afresh.
      await Deno.remove(dataDir, { recursive: true });
      const third = await start();
      if (asRoot) {
        assert.equal(await Deno.readLink(`${dataDir}/pg`), cluster, "same path, same place");
      }
      assert.deepEqual([...await query("SELECT to_regclass('kept') AS t")], [{ t: null }]);
      assert.equal((await third.run.stop()).code, 0);

      // What a throwaway DATA_DIR's owner calls: the cluster outside goes with it.
      await removeDataDir(dataDir);
      assert.ok(!await exists(dataDir));
      if (cluster) assert.ok(!await exists(cluster) && !await exists(`${cluster}.path`));
    } finally {
      for (const run of runs) run.kill();
      for (const pid of pids) await killIfAlive(pid);
      await removeDataDir(dataDir);
    }
  });
});
