/** HS256 JWTs with the algorithm pinned and `exp` checked (hono/jwt). */
import { sign, verify } from "hono/jwt";

export const TOKEN_TTL_S = 24 * 60 * 60;

export async function signToken(userId: string, secret: string, nowMs: number): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  return await sign({ sub: userId, iat, exp: iat + TOKEN_TTL_S }, secret, "HS256");
}

/** The token's user, or undefined for anything not a valid, unexpired HS256 token of ours. */
export async function verifyToken(token: string, secret: string): Promise<string | undefined> {
  if (token.length > 4096) return undefined;
  try {
    const payload = await verify(token, secret, "HS256");
    if (typeof payload.exp !== "number") return undefined;
    return typeof payload.sub === "string" && /^[A-Za-z0-9_-]{1,64}$/.test(payload.sub)
      ? payload.sub
      : undefined;
  } catch {
    return undefined;
  }
}
