import assert from "node:assert/strict";
import { sign } from "hono/jwt";
import { signToken, verifyToken } from "./jwt.ts";

const A = "secret-a-secret-a-secret-a-secret-a";
const B = "secret-b-secret-b-secret-b-secret-b";

Deno.test("a cached token still expires, and never passes under another secret", async () => {
  // Two seconds ahead: a one-second margin could already have run out at the first check.
  const exp = Math.floor(Date.now() / 1000) + 2;
  const token = await sign({ sub: "user-1", exp }, A, "HS256");
  assert.equal(await verifyToken(token, A), "user-1");
  assert.equal(await verifyToken(token, A), "user-1"); // from the cache
  assert.equal(await verifyToken(token, B), undefined);
  await new Promise((resolve) => setTimeout(resolve, (exp + 1) * 1000 - Date.now()));
  assert.equal(await verifyToken(token, A), undefined);
});

Deno.test("signToken issues HS256 tokens with sub and exp that verifyToken accepts", async () => {
  const token = await signToken("user-2", A, Date.now());
  assert.equal(JSON.parse(atob(token.split(".")[0]!)).alg, "HS256");
  assert.equal(await verifyToken(token, A), "user-2");
  assert.equal(await verifyToken(token.slice(0, -2) + "xx", A), undefined);
});
