/**
 * Users in Postgres. Signup appends the engine's create_account before the user's row is
 * written, so every user who can sign in has an account.
 */
import type { Sql } from "@trading/shared/db";

export interface UserRecord {
  id: string;
  passwordHash: string;
}

export interface UserStore {
  /**
   * Creates the user, running `beforeInsert` with its new ID first (a failure there writes
   * nothing); undefined if the email is taken.
   */
  create(
    email: string,
    passwordHash: string,
    beforeInsert: (userId: string) => Promise<unknown>,
  ): Promise<string | undefined>;
  findByEmail(email: string): Promise<UserRecord | undefined>;
}

export function postgresUsers(
  sql: Sql,
  newId: () => string = () => crypto.randomUUID(),
): UserStore {
  async function findByEmail(email: string): Promise<UserRecord | undefined> {
    const rows = await sql<{ id: string; password_hash: string }[]>`
      SELECT id, password_hash FROM users WHERE email = ${email}`;
    const row = rows[0];
    return row === undefined ? undefined : { id: row.id, passwordHash: row.password_hash };
  }
  return {
    // No transaction: postgres.js (3.4.9) crashes the process when the server goes away
    // during `sql.begin` (porsager/postgres#1208). Only a signup racing another for the same
    // email, or Postgres failing between the two writes, can leave an account nobody can sign
    // in to; it holds no one's money.
    async create(email, passwordHash, beforeInsert) {
      if (await findByEmail(email) !== undefined) return undefined;
      const id = newId();
      await beforeInsert(id);
      const rows = await sql<{ id: string }[]>`
        INSERT INTO users (id, email, password_hash) VALUES (${id}, ${email}, ${passwordHash})
        ON CONFLICT (email) DO NOTHING RETURNING id`;
      return rows.length === 0 ? undefined : id;
    },
    findByEmail,
  };
}
