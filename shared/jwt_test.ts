import assert from "node:assert/strict";
import { sign } from "hono/jwt";
import { signToken, verifyToken, verifyTokenClaims } from "./jwt.ts";

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

Deno.test("verifyTokenClaims gives the user and the token's exp, cached or not", async () => {
  const exp = Math.floor(Date.now() / 1000) + 60;
  const token = await sign({ sub: "user-3", exp }, A, "HS256");
  assert.deepEqual(await verifyTokenClaims(token, A), { userId: "user-3", expSec: exp });
  const cached = await verifyTokenClaims(token, A);
  assert.deepEqual(cached, { userId: "user-3", expSec: exp });
  cached!.expSec = exp + 1000; // a caller's copy: the cache keeps the verified exp
  assert.deepEqual(await verifyTokenClaims(token, A), { userId: "user-3", expSec: exp });
  assert.equal(await verifyTokenClaims(token, B), undefined);
  const noExp = await sign({ sub: "user-3" }, A, "HS256");
  assert.equal(await verifyTokenClaims(noExp, A), undefined);
});
