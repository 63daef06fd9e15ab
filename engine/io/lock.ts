/**
 * One engine at a time: a Redis lease (SET NX PX) renewed while the engine runs. Two engines
 * on one stream would each write every answer; the second one waits instead.
 */
import type { Redis } from "ioredis";
import type { Logger } from "@trading/shared/log";

export const ENGINE_LOCK_KEY = "engine:lock";

const RENEW = `if redis.call("get", KEYS[1]) == ARGV[1] then
  return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then
  return redis.call("del", KEYS[1]) else return 0 end`;

export class EngineLease {
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly owner: string,
    private readonly log: Logger,
    private readonly ttlMs = 6_000,
  ) {}

  /** Waits until the lease is ours. */
  async acquire(): Promise<void> {
    let announced = false;
    for (;;) {
      const ok = await this.redis.set(ENGINE_LOCK_KEY, this.owner, "PX", this.ttlMs, "NX");
      if (ok === "OK") break;
      const holder = await this.redis.get(ENGINE_LOCK_KEY);
      if (holder !== null && isDeadLocalOwner(holder)) {
        // A crashed engine on this machine (kill -9): no need to wait out its lease.
        this.log.warn("taking over the lease of a dead engine", { holder });
        await this.redis.eval(RELEASE, 1, ENGINE_LOCK_KEY, holder);
        continue;
      }
      if (!announced) this.log.warn("another engine holds the lease; waiting for it");
      announced = true;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** Renews every ttl/3; calls `lost` if another engine took over meanwhile. */
  keep(lost: () => void): void {
    this.#timer = setInterval(async () => {
      try {
        const renewed = await this.redis.eval(RENEW, 1, ENGINE_LOCK_KEY, this.owner, this.ttlMs);
        if (renewed === 0) lost();
      } catch (error) {
        this.log.warn("lease renewal failed", { error });
      }
    }, Math.floor(this.ttlMs / 3));
  }

  async release(): Promise<void> {
    clearInterval(this.#timer);
    await this.redis.eval(RELEASE, 1, ENGINE_LOCK_KEY, this.owner).catch(() => {});
  }
}

/** The lease owner is "<hostname>:<pid>"; on this host, a pid with no /proc entry is dead. */
export function isDeadLocalOwner(owner: string): boolean {
  const [host, pid] = owner.split(":");
  if (host !== Deno.hostname() || !/^\d+$/.test(pid ?? "")) return false;
  try {
    Deno.statSync(`/proc/${pid}`);
    return false;
  } catch {
    return true;
  }
}
