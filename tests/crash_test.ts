/**
 * Crash equivalence on one Redis (tests/crash_scenario.ts says what is asserted); the same
 * scenario runs on a Redis Cluster in tests/cluster_test.ts.
 */
import { Redis } from "ioredis";
import { crashScenario } from "./crash_scenario.ts";
import { withEnv } from "./harness.ts";

Deno.test("SIGKILL at random points: same hash, one answer each, one history row each", async () => {
  await withEnv({ SNAPSHOT_INTERVAL_MS: "150", LOG_LEVEL: "debug" }, async (env) => {
    await crashScenario(env, {
      ops: 5000,
      kills: 12,
      newReader: () => new Redis(env.env.REDIS_URL!),
    });
  });
});
