/**
 * Snapshots in Postgres: the whole state's canonical text, the ID of the last input entry in
 * it and its SHA-256, written in one transaction; the newest few are kept.
 */
import type { Sql } from "@trading/shared/db";
import type { Logger } from "@trading/shared/log";
import { decodeState, hashEncoded, SnapshotError } from "../core/snapshot.ts";
import type { EngineState } from "../core/state.ts";

export const SNAPSHOTS_KEPT = 3;

export interface SnapshotMeta {
  id: string;
  lastId: string;
  stateHash: string;
}

export interface LoadedSnapshot extends SnapshotMeta {
  state: EngineState;
}

export class SnapshotStore {
  constructor(private readonly sql: Sql, private readonly log: Logger) {}

  /**
   * Saves a snapshot given as consecutive parts of its canonical text (each sent on its own,
   * so no single write holds the event loop long), then its row, then drops all but the
   * newest SNAPSHOTS_KEPT.
   *
   * No transaction: postgres.js (3.4.9) crashes the process when the server goes away during
   * `sql.begin` (its ROLLBACK lands on a dropped socket, porsager/postgres#1208), and the
   * engine must outlive a Postgres outage. The row is the commit instead: recovery reads only
   * snapshots that have a row, parts are written before it under an ID taken from the
   * sequence, and parts left by a save that failed halfway are swept by the next one.
   */
  async save(lastId: string, stateHash: string, parts: readonly string[]): Promise<SnapshotMeta> {
    const sql = this.sql;
    const [next] = await sql<{ id: string }[]>`
      SELECT nextval(pg_get_serial_sequence('snapshots', 'id'))::text AS id`;
    const id = next!.id;
    for (const [idx, data] of parts.entries()) {
      await sql`INSERT INTO snapshot_parts (snapshot_id, idx, data) VALUES (${id}, ${idx}, ${data})`;
    }
    await sql`INSERT INTO snapshots (id, last_id, state_hash) VALUES (${id}, ${lastId}, ${stateHash})`;
    await sql`
      DELETE FROM snapshots WHERE id NOT IN (
        SELECT id FROM snapshots ORDER BY id DESC LIMIT ${SNAPSHOTS_KEPT})`;
    await sql`
      DELETE FROM snapshot_parts
      WHERE snapshot_id <= ${id} AND snapshot_id NOT IN (SELECT id FROM snapshots)`;
    return { id, lastId, stateHash };
  }

  /** Kept snapshots, newest first, without their state. */
  async list(): Promise<SnapshotMeta[]> {
    // Ordered by the bigint column: an output column named `id` (text) would sort "9" > "10".
    const rows = await this.sql<{ snapshot_id: string; last_id: string; state_hash: string }[]>`
      SELECT id::text AS snapshot_id, last_id, state_hash FROM snapshots ORDER BY snapshots.id DESC`;
    return rows.map((r) => ({ id: r.snapshot_id, lastId: r.last_id, stateHash: r.state_hash }));
  }

  /** Loads one snapshot and checks its hash; undefined when missing or corrupt. */
  async load(id: string): Promise<LoadedSnapshot | undefined> {
    const rows = await this.sql<{ last_id: string; state_hash: string }[]>`
      SELECT last_id, state_hash FROM snapshots WHERE id = ${id}`;
    const meta = rows[0];
    if (meta === undefined) return undefined;
    const parts = await this.sql<{ data: string }[]>`
      SELECT data FROM snapshot_parts WHERE snapshot_id = ${id} ORDER BY idx`;
    const row = { ...meta, state: parts.map((p) => p.data).join("") };
    if (hashEncoded(row.state) !== row.state_hash) {
      this.log.error("snapshot hash does not verify; skipping it", { id, lastId: row.last_id });
      return undefined;
    }
    try {
      const state = decodeState(row.state);
      if (state.lastId !== row.last_id) throw new SnapshotError("lastId disagrees with its row");
      return { id, lastId: row.last_id, stateHash: row.state_hash, state };
    } catch (error) {
      this.log.error("snapshot does not decode; skipping it", { id, error });
      return undefined;
    }
  }

  /** The newest snapshot whose hash verifies, or undefined when there is none. */
  async loadNewestValid(): Promise<LoadedSnapshot | undefined> {
    for (const meta of await this.list()) {
      const loaded = await this.load(meta.id);
      if (loaded !== undefined) return loaded;
    }
    return undefined;
  }
}
