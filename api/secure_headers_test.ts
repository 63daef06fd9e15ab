import assert from "node:assert/strict";
import { Hono } from "hono";
import { secureHeaders as honoSecureHeaders } from "hono/secure-headers";
import { secureHeaders } from "./secure_headers.ts";

Deno.test("secureHeaders sets what Hono's secureHeaders() sets, in its order", async () => {
  const answer = async (middleware: typeof secureHeaders) => {
    const app = new Hono();
    app.use("*", middleware());
    app.get("/", (c) => c.json({ ok: true }));
    const response = await app.request("/");
    await response.body?.cancel();
    return [...response.headers];
  };
  assert.deepEqual(await answer(secureHeaders), await answer(honoSecureHeaders));
});
