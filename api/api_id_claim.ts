/**
 * One live process per `API_ID`. Two processes under one id would both read that id's reply
 * stream, and each trims it to what it has read: one could trim away answers the other had not
 * read yet, and its users would time out. So a process claims its id at start, a short lease
 * in Redis (`{e0}:api:<id>`, holding a token of its own) renewed while it runs, and refuses to
 * start while another holds it. A process killed without a goodbye holds its id until the lease
 * runs out; its successor waits that long at most.
 */
import { apiIdClaimKey, type RedisClient } from "@trading/shared/redis";
import type { Logger } from "@trading/shared/log";
import { sleep } from "@trading/shared/wait";

export class ApiIdTakenError extends Error {
  override name = "ApiIdTakenError";
}

export interface ApiIdClaimOptions {
  /** How long the claim outlives its last renewal. */
  leaseMs?: number;
  /** How long a starting process waits for another's claim to end before giving up. */
  waitMs?: number;
  log: Logger;
  /** Called when the claim is found held by another process while this one runs. */
  onLost: () => void;
}

// Renews the claim only while it holds this process's token; takes it back if it expired (Redis
// restarted, or a stall longer than the lease) and nobody else took it; 0 when another holds it.
const RENEW = `
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if current == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`;

// Lets the claim go only while it is this process's.
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface ApiIdClaim {
  /** Stops renewing and lets the id go, so a successor need not wait for the lease. */
  release(): Promise<void>;
}

/** Claims `apiId` for this process, or throws `ApiIdTakenError` when another process holds it. */
export async function claimApiId(
  redis: RedisClient,
  apiId: string,
  { leaseMs = 3_000, waitMs, log, onLost }: ApiIdClaimOptions,
): Promise<ApiIdClaim> {
  const key = apiIdClaimKey(apiId);
  const token = crypto.randomUUID();
  const deadline = performance.now() + (waitMs ?? leaseMs + 500);
  while (await redis.set(key, token, "PX", leaseMs, "NX") !== "OK") {
    if (performance.now() >= deadline) {
      throw new ApiIdTakenError(
        `API_ID ${apiId} is held by another running process; give each API process its own`,
      );
    }
    await sleep(Math.min(250, leaseMs / 4));
  }
  let released = false;
  const renew = async () => {
    try {
      const held = await redis.eval(RENEW, 1, key, token, String(leaseMs));
      if (held === 0 && !released) {
        log.error("API_ID taken by another process", { apiId });
        onLost();
      }
    } catch {
      // Redis away: the next tick tries again (the process answers 503s meanwhile anyway).
    }
  };
  const timer = setInterval(renew, Math.max(100, Math.floor(leaseMs / 3)));
  return {
    async release() {
      released = true;
      clearInterval(timer);
      await redis.eval(RELEASE, 1, key, token).catch(() => {});
    },
  };
}
