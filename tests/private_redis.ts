/** A redis-server of the test's own, with AOF on, that a test may stop and start again. */
import { spawnRedisServer, waitForPort } from "../scripts/services.ts";
import { freePort } from "./harness.ts";

export interface PrivateRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const dir = await Deno.makeTempDir({ prefix: "redis-aof-" });
  const port = freePort();
  let child: Deno.ChildProcess | undefined;
  const start = async () => {
    child = spawnRedisServer(port, dir);
    if (!await waitForPort(port, 5000)) throw new Error("private redis-server did not start");
  };
  const stop = async () => {
    if (child === undefined) return;
    child.kill("SIGTERM"); // a clean shutdown: the AOF is flushed
    await child.status;
    child = undefined;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop,
    async destroy() {
      await stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
