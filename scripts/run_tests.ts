/**
 * `deno task test`: runs `deno test` against real Redis and Postgres. It uses 127.0.0.1:6379
 * and 127.0.0.1:5432 when they answer (or TEST_REDIS_URL / TEST_ADMIN_DATABASE_URL); on a
 * machine without them it starts a private `redis-server` and an embedded Postgres in a
 * temporary folder for the run, and removes them after (as root, the Postgres folder and
 * binaries are where the postgres user reaches them: see services.ts). Arguments go to
 * `deno test`.
 */
import {
  makePostgresTempDir,
  portOpen,
  PostgresCluster,
  spawnRedisServer,
  waitForPort,
} from "./services.ts";

const PERMISSIONS = [
  "--allow-env",
  "--allow-read",
  "--allow-net",
  "--allow-run",
  "--allow-write",
  "--allow-sys",
  "--allow-ffi",
];

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

const say = (text: string) => console.error(`test services: ${text}`);
const cleanups: Array<() => Promise<void>> = [];
const env: Record<string, string> = {};
const tmp = await Deno.makeTempDir({ prefix: "trading-test-services-" });
cleanups.push(() => Deno.remove(tmp, { recursive: true }).catch(() => {}));

async function cleanup(): Promise<void> {
  for (const step of cleanups.reverse()) await step().catch(() => {});
  cleanups.length = 0;
}

let status = 1;
try {
  if (Deno.env.get("TEST_REDIS_URL") === undefined && !await portOpen(6379)) {
    const port = freePort();
    const child = spawnRedisServer(port, tmp);
    cleanups.push(async () => {
      child.kill("SIGTERM");
      await child.status;
    });
    if (!await waitForPort(port, 10_000)) throw new Error("the private redis-server did not start");
    env.TEST_REDIS_URL = `redis://127.0.0.1:${port}`;
    say(`nothing on 6379: a private redis-server on ${port}`);
  }
  if (Deno.env.get("TEST_ADMIN_DATABASE_URL") === undefined && !await portOpen(5432)) {
    const port = freePort();
    // As root, Postgres runs as the postgres user: its folder (and binaries) where it can reach
    // them, whether or not it can reach this clone.
    const dir = await makePostgresTempDir("trading-test-pg-");
    cleanups.push(() => Deno.remove(dir, { recursive: true }));
    const pg = new PostgresCluster(`${dir}/cluster`, port);
    cleanups.push(() => pg.stop());
    await pg.start();
    env.TEST_ADMIN_DATABASE_URL = pg.url();
    say(`nothing on 5432: an embedded Postgres on ${port}`);
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "test",
      ...(Deno.args.some((a) => a === "-A" || a === "--allow-all") ? [] : PERMISSIONS),
      ...Deno.args,
    ],
    env,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const stop = () => child.kill("SIGINT");
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  status = (await child.status).code;
} catch (error) {
  say(`cannot start: ${error instanceof Error ? error.message : error}`);
} finally {
  await cleanup();
}
Deno.exit(status);
