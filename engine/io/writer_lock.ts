/**
 * One writer at a time (docs/design.md §8): a session-level Postgres advisory lock, named after
 * what the writer writes, held by a client of one connection of its own (never a connection
 * `reserve()`d from a pool: postgres.js throws an uncatchable error when a reserved connection's
 * server goes away, porsager/postgres#1208, and an outage of Postgres must not crash the
 * engine). The writer runs its statements on that session and checks before each batch that
 * the session still holds the lock: a connection lost and made again is a new session without
 * it. A second writer waits for it. The lock goes with the session: when the holder's process
 * exits (an engine that lost its lease does), Postgres releases it, and the waiting writer takes
 * over.
 */
import type { Sql } from "@trading/shared/db";
import { sleep } from "@trading/shared/wait";

/** The advisory lock class of the engine's writers ("cdl"); the name hashes to the object id. */
const LOCK_CLASS = 0x63646c;

export class WriterLockLost extends Error {
  override name = "WriterLockLost";
}

export class WriterLock {
  readonly #objectId: number;
  #held = false;

  /** `session`: a client with at most one connection (`connectPostgres(url, { max: 1 })`). */
  constructor(readonly session: Sql, readonly name: string) {
    this.#objectId = fnv1a32(name);
  }

  /** The session that holds the lock: the writer's statements go through it. */
  get sql(): Sql {
    if (!this.#held) throw new WriterLockLost("the writer lock is not held");
    return this.session;
  }

  /**
   * Waits until the lock is this one's (true), asking every `pollMs`, or until `running()` is
   * false (false): a stopping writer is never stuck in a blocking lock call.
   */
  async acquire(running: () => boolean, pollMs: number): Promise<boolean> {
    while (running()) {
      const [row] = await this.session<{ held: boolean }[]>`
        SELECT pg_try_advisory_lock(${LOCK_CLASS}::int, ${this.#objectId | 0}::int) AS held`;
      if (row?.held) {
        this.#held = true;
        return true;
      }
      await sleep(pollMs);
    }
    return false;
  }

  /** Throws unless this session still holds the lock (its connection may have been lost). */
  async check(): Promise<void> {
    const [row] = await this.sql<{ held: boolean }[]>`
      SELECT EXISTS (
        SELECT 1 FROM pg_locks
        WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
          AND classid::bigint = ${LOCK_CLASS} AND objid::bigint = ${this.#objectId}
          AND objsubid = 2
      ) AS held`;
    if (!row?.held) {
      this.#held = false;
      throw new WriterLockLost(`the writer lock "${this.name}" was lost`);
    }
  }

  /** Gives the lock back; nothing to do when it is not held. */
  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    try {
      await this.session`SELECT pg_advisory_unlock(${LOCK_CLASS}::int, ${this.#objectId | 0}::int)`;
    } catch {
      // A lost connection: its session, and so its lock, is gone already.
    }
  }
}

/** FNV-1a, 32 bits, unsigned: a stable lock id for a name. */
function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
