/**
 * `deno task replay` needs Redis and Postgres only: no JWT secret (it signs and checks no
 * token). Run with an environment that has none, it gives the live engine's hash; and with
 * parameters of its own in the environment too, since a stream's parameters are its
 * `configure` entries.
 */
import assert from "node:assert/strict";
import { encodeInput, ENGINE_STATUS_KEY, INPUT_STREAM } from "@trading/shared";
import { eventually, withEnv } from "./harness.ts";
import { startPrivateRedis } from "./private_redis.ts";

const ROOT = new URL("../", import.meta.url).pathname;

async function replay(env: Record<string, string>, args: string[] = []) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "engine/replay.ts", ...args],
    cwd: ROOT,
    env,
    clearEnv: true,
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  return { code: output.code, text, lines: text.split("\n") };
}

Deno.test("deno task replay runs with no JWT_SECRET, whatever its parameters, and gives the live engine's hash", async () => {
  const redis = await startPrivateRedis();
  try {
    await withEnv({ REDIS_URL: redis.url, SNAPSHOT_INTERVAL_MS: "200" }, async (env) => {
      // The engine writes a configure entry for these before it serves.
      await env.startEngine({ MMR_BPS: "60", MAX_OPEN_POSITIONS: "7" });
      let lastId = "";
      for (let n = 0; n < 20; n++) {
        const entry = encodeInput({ kind: "create_account", requestId: `r${n}`, userId: `u${n}` });
        lastId = (await env.redis.xadd(INPUT_STREAM, "*", ...Object.entries(entry).flat()))!;
      }
      const status = await eventually("a snapshot of the final state", async () => {
        const s = await env.redis.hgetall(ENGINE_STATUS_KEY);
        return s.stateHashId === lastId ? s : undefined;
      });

      const { JWT_SECRET: _secret, ...rest } = env.env;
      const withoutSecret: Record<string, string> = {
        ...rest,
        MMR_BPS: "75",
        PRICE_MAX_AGE_MS: "100",
      };
      assert.equal(withoutSecret.JWT_SECRET, undefined);
      const fromSnapshot = await replay(withoutSecret);
      assert.equal(fromSnapshot.code, 0, fromSnapshot.text);
      assert.ok(fromSnapshot.lines.includes(`state hash ${status.stateHash}`), fromSnapshot.text);

      const fromStart = await replay(withoutSecret, ["--from-start", "--until", lastId]);
      assert.equal(fromStart.code, 0, fromStart.text);
      assert.match(fromStart.text, /^replayed 21 entries from the start of the stream/m);
      assert.ok(fromStart.lines.includes(`state hash ${status.stateHash}`), fromStart.text);
    });
  } finally {
    await redis.destroy();
  }
});
