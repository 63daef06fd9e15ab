/** The poller against the simulator as a real process: it rides out the feed going away. */
import assert from "node:assert/strict";
import { eventually, http, sleep, withEnv } from "./harness.ts";

Deno.test("the poller reconnects after the simulator is killed and restarted", async () => {
  await withEnv({}, async (env) => {
    await env.startSim();
    await env.startEngine();
    await env.startApi();
    const poller = env.startPoller();
    const latestTs = async () => {
      const { body } = await http<{ prices: Array<{ ts: number }> }>(env.api, "GET", "/prices");
      return Math.max(0, ...body.prices.map((p) => p.ts));
    };
    await eventually("first prices", async () => (await latestTs()) > 0);

    const sim = env.processes.find((p) => p.name === "sim")!;
    await sim.kill("SIGKILL");
    await sleep(2500); // several reconnect attempts against a closed port
    const restartedAtMs = Date.now();
    await env.startSim();
    await eventually(
      "prices after the restart",
      async () => (await latestTs()) > restartedAtMs,
      20_000,
    );

    const lines = poller.output.filter((line) => line.includes('"feed '));
    const waiting = lines.filter((line) => line.includes('"feed waiting"')).length;
    assert.ok(waiting >= 1, "the outage was logged");
    // One line per change of state, not one per failed attempt.
    assert.ok(
      lines.length <= 8,
      `state changes logged ${lines.length} times:\n${lines.join("\n")}`,
    );
  });
});
