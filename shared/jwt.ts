/** HS256 JWTs with the algorithm pinned and `exp` checked (hono/jwt). */
import { sign, verify } from "hono/jwt";

export const TOKEN_TTL_S = 24 * 60 * 60;

export async function signToken(userId: string, secret: string, nowMs: number): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  return await sign({ sub: userId, iat, exp: iat + TOKEN_TTL_S }, secret, "HS256");
}

/**
 * Tokens already verified, per secret, with their user and expiry: an HMAC check per request
 * is most of an API process's CPU under load. Keyed by the whole token (signature included),
 * so a cached entry only ever matches the exact token that passed; `exp` is checked every time.
 */
const verifiedBySecret = new Map<string, Map<string, Readonly<TokenClaims>>>();
const VERIFIED_MAX = 50_000;

/** A verified token's user, and when the token expires (seconds since the epoch). */
export interface TokenClaims {
  userId: string;
  expSec: number;
}

/** The token's user, or undefined for anything not a valid, unexpired HS256 token of ours. */
export async function verifyToken(token: string, secret: string): Promise<string | undefined> {
  return (await verifyTokenClaims(token, secret))?.userId;
}

/**
 * As verifyToken, with the token's expiry: a holder of the token for longer than one request
 * (the gateway's sockets) must stop serving it at `expSec`.
 */
export async function verifyTokenClaims(
  token: string,
  secret: string,
): Promise<TokenClaims | undefined> {
  if (token.length > 4096) return undefined;
  let verified = verifiedBySecret.get(secret);
  if (verified === undefined) verifiedBySecret.set(secret, verified = new Map());
  const known = verified.get(token);
  if (known !== undefined) {
    // A copy: the cached entry stays as verified whatever a caller does with its answer.
    if (known.expSec > Date.now() / 1000) return { ...known };
    verified.delete(token);
    return undefined;
  }
  const checked = await verifyUncached(token, secret);
  if (checked === undefined) return undefined;
  if (verified.size >= VERIFIED_MAX) verified.clear();
  verified.set(token, checked);
  return { ...checked };
}

async function verifyUncached(
  token: string,
  secret: string,
): Promise<TokenClaims | undefined> {
  try {
    const payload = await verify(token, secret, "HS256");
    if (typeof payload.exp !== "number") return undefined;
    const sub = payload.sub;
    return typeof sub === "string" && /^[A-Za-z0-9_-]{1,64}$/.test(sub)
      ? { userId: sub, expSec: payload.exp }
      : undefined;
  } catch {
    return undefined;
  }
}
