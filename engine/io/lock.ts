/**
 * One engine at a time: a Redis lease (SET NX PX) renewed while the engine runs. Two engines
 * on one stream would each write every answer; the second one waits instead.
 *
 * Every acquisition also counts itself in ENGINE_LOCK_EPOCH_KEY, in the same script, so an
 * engine whose lease expired can tell whether any other engine held the lease since. (An
 * engine of a version before the count acquires without counting: run one version at a time.)
 */
import { ENGINE_LOCK_EPOCH_KEY, ENGINE_LOCK_KEY, type RedisClient } from "@trading/shared/redis";
import type { Logger } from "@trading/shared/log";

// Both keys carry the engine's hash tag: the scripts below touch them together on one node.
export { ENGINE_LOCK_EPOCH_KEY, ENGINE_LOCK_KEY };

// KEYS: lock, epoch. ARGV: owner, ttl. The new epoch, or 0 if the lease is held.
const ACQUIRE = `if redis.call("set", KEYS[1], ARGV[1], "PX", ARGV[2], "NX") then
  return redis.call("incr", KEYS[2]) else return 0 end`;
// KEYS: lock, epoch. ARGV: owner, ttl, our epoch. Takes the lease back only if it is free and
// nobody acquired it since we did.
const REACQUIRE = `if redis.call("exists", KEYS[1]) == 0 and
  tonumber(redis.call("get", KEYS[2]) or "0") == tonumber(ARGV[3]) then
  redis.call("set", KEYS[1], ARGV[1], "PX", ARGV[2]) return 1 else return 0 end`;
const RENEW = `if redis.call("get", KEYS[1]) == ARGV[1] then
  return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then
  return redis.call("del", KEYS[1]) else return 0 end`;

export class EngineLease {
  #timer: ReturnType<typeof setInterval> | undefined;
  #epoch = 0;
  /** When the lease was last known ours (acquired or renewed), on the monotonic clock. */
  #heldAtMs = 0;
  #checking = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly owner: string,
    private readonly log: Logger,
    private readonly ttlMs = 6_000,
  ) {}

  /** Waits until the lease is ours. */
  async acquire(): Promise<void> {
    let announced = false;
    for (;;) {
      const epoch = Number(
        await this.redis.eval(
          ACQUIRE,
          2,
          ENGINE_LOCK_KEY,
          ENGINE_LOCK_EPOCH_KEY,
          this.owner,
          this.ttlMs,
        ),
      );
      if (epoch > 0) {
        this.#epoch = epoch;
        this.#heldAtMs = performance.now();
        break;
      }
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

  /**
   * Renews every ttl/3. If a renewal finds the lease no longer ours (the process stalled, or
   * could not reach Redis, for longer than the ttl), says why to `lost`, and stops renewing:
   * - another engine holds it now (named);
   * - or nobody does, but another engine acquired it after us and has let it go since;
   * - or nobody has held it since it expired: then it takes the lease back and carries on.
   *
   * Taking it back is safe only in the last case, and the epoch proves that case: every
   * acquisition increments it atomically with its SET NX, and the re-acquisition checks it and
   * sets the lease in one script. An unchanged epoch means no other engine held the lease, so
   * none wrote to the streams, and our state is still the stream's. If the epoch moved, another
   * engine ran meanwhile (it may have applied entries, written answers, trimmed): our state may
   * be behind what was written, so we exit and recover from the snapshot and the stream.
   */
  keep(lost: (reason: string) => void): void {
    this.#timer = setInterval(async () => {
      if (this.#checking) return; // a slow renewal still running
      this.#checking = true;
      try {
        const renewed = await this.redis.eval(
          RENEW,
          1,
          ENGINE_LOCK_KEY,
          this.owner,
          this.ttlMs,
        );
        if (renewed !== 0) {
          this.#heldAtMs = performance.now();
          return;
        }
        const stallMs = Math.round(performance.now() - this.#heldAtMs);
        const reason = await this.#whyLost(stallMs);
        if (reason === undefined) {
          this.log.warn(
            "engine lease expired during a stall and no other engine took it; took it back",
            { stallMs, ttlMs: this.ttlMs },
          );
          this.#heldAtMs = performance.now();
          return;
        }
        clearInterval(this.#timer);
        lost(reason);
      } catch (error) {
        this.log.warn("lease renewal failed", { error });
      } finally {
        this.#checking = false;
      }
    }, Math.floor(this.ttlMs / 3));
  }

  /** Why the lease is not ours any more, or undefined once it is ours again. */
  async #whyLost(stallMs: number): Promise<string | undefined> {
    const stall = `${stallMs} ms since it was last renewed (ttl ${this.ttlMs} ms)`;
    const taken = await this.redis.eval(
      REACQUIRE,
      2,
      ENGINE_LOCK_KEY,
      ENGINE_LOCK_EPOCH_KEY,
      this.owner,
      this.ttlMs,
      this.#epoch,
    );
    if (taken === 1) return undefined;
    const [holder, epoch] = await Promise.all([
      this.redis.get(ENGINE_LOCK_KEY),
      this.redis.get(ENGINE_LOCK_EPOCH_KEY),
    ]);
    if (holder === this.owner) return undefined; // renewed or taken back meanwhile
    if (holder !== null) return `engine lease held by another engine (${holder}), ${stall}`;
    if (epoch === null) {
      // Both keys gone: RedisClient lost its data (flushed, or restarted without it). Nobody can
      // tell who wrote since; a restart recovers from what is there.
      return `engine lease and its acquisition count are gone from Redis, ${stall}`;
    }
    return `engine lease expired, ${stall}, and another engine held it meanwhile ` +
      `(acquisition ${epoch}, ours ${this.#epoch})`;
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
