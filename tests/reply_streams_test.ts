/**
 * Reply streams (docs/design.md §1): each API process reads answers from its own stream, and
 * a live process trims its stream to what it has read; the stream of a process that went away
 * expires REPLY_TTL_MS after its last answer, so no person ever has to clean one up. A process restarted under the same API_ID reads on.
 */
import assert from "node:assert/strict";
import { replyStream } from "@trading/shared/redis";
import { eventually, freePort, http, newUser, sleep, withEnv } from "./harness.ts";

const TTL_MS = 1500;

Deno.test("reply streams: trimmed to what their API read; a gone API's expires; a restart under its id reads on", async () => {
  await withEnv({ REPLY_TTL_MS: String(TTL_MS) }, async (env) => {
    await env.startSim();
    await env.startEngine();
    env.startPoller();
    const port = freePort();
    const gone = await env.startApi({ API_ID: "gone-api" }, port);
    const base = `http://127.0.0.1:${port}/api/v1`;
    const user = await newUser(base);
    assert.equal((await http(base, "GET", "/balance", { token: user.token })).status, 200);
    const stream = replyStream("gone-api");
    assert.ok(await env.redis.xlen(stream) >= 1, "the balance's answer went to the stream");
    const ttl = await env.redis.pttl(stream);
    assert.ok(ttl > 0 && ttl <= TTL_MS, `a time to live is set: ${ttl}`);

    // Live: the process trims its stream to what it has read, so it never holds much.
    for (let i = 0; i < 30; i++) {
      await Promise.all(
        Array.from({ length: 10 }, () => http(base, "GET", "/balance", { token: user.token })),
      );
    }
    await eventually(
      "the stream trimmed to what was read",
      async () => await env.redis.xlen(stream) < 150,
      3000,
    );

    // Live: every answer renews it.
    await sleep(TTL_MS * 0.6);
    assert.equal((await http(base, "GET", "/balance", { token: user.token })).status, 200);
    await sleep(TTL_MS * 0.6);
    assert.equal(await env.redis.exists(stream), 1, "renewed by the answer in between");

    // Gone: nothing renews it, and it expires.
    await gone.kill("SIGKILL");
    await eventually("the stream expired", async () => await env.redis.exists(stream) === 0, 5000);

    // The same id again: it starts at the (new) stream's end and gets its own answers.
    await env.startApi({ API_ID: "gone-api" }, port);
    const balance = await http<{ balance: number }>(base, "GET", "/balance/usd", {
      token: user.token,
    });
    assert.equal(balance.status, 200);
    assert.equal(balance.body.balance, 500_000);
    assert.ok(await env.redis.pttl(stream) > 0);
  });
});

Deno.test("API_ID: a second live process under one id refuses to start; a stopped one lets it go", async () => {
  await withEnv({}, async (env) => {
    await env.startSim();
    await env.startEngine();
    env.startPoller();
    const port = freePort();
    const first = await env.startApi({ API_ID: "one-id" }, port);
    const base = `http://127.0.0.1:${port}/api/v1`;
    const user = await newUser(base);

    const second = env.spawn("api:second", "api/main.ts", {
      API_ID: "one-id",
      API_PORT: String(freePort()),
    });
    const exited = await Promise.race([second.child.status, sleep(15_000).then(() => undefined)]);
    assert.equal(exited?.code, 1, "the second process exits");
    assert.ok(
      second.output.some((line) =>
        line.includes("API_ID one-id is held by another running process")
      ),
      `it says why: ${second.output.slice(-3).join(" | ")}`,
    );
    // The first keeps its id and its answers.
    assert.equal((await http(base, "GET", "/balance", { token: user.token })).status, 200);
    assert.ok(await env.redis.exists("{e0}:api:one-id"));

    // Stopped with a goodbye, it lets the id go at once: the next one starts without waiting.
    await first.kill("SIGTERM");
    assert.equal(await env.redis.exists("{e0}:api:one-id"), 0, "released on shutdown");
    await env.startApi({ API_ID: "one-id" }, port);
    assert.equal((await http(base, "GET", "/balance", { token: user.token })).status, 200);
  });
});
