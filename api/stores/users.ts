/** Users in Postgres. Signup appends the engine's create_account inside the transaction. */
import type { Sql } from "@trading/shared/db";

export interface UserRecord {
  id: string;
  passwordHash: string;
}

export interface UserStore {
  /** Creates the user and runs `beforeCommit` in its transaction; undefined if the email is taken. */
  create(
    email: string,
    passwordHash: string,
    beforeCommit: (userId: string) => Promise<unknown>,
  ): Promise<string | undefined>;
  findByEmail(email: string): Promise<UserRecord | undefined>;
}

export function postgresUsers(
  sql: Sql,
  newId: () => string = () => crypto.randomUUID(),
): UserStore {
  return {
    async create(email, passwordHash, beforeCommit) {
      return await sql.begin(async (tx) => {
        const id = newId();
        const rows = await tx<{ id: string }[]>`
          INSERT INTO users (id, email, password_hash) VALUES (${id}, ${email}, ${passwordHash})
          ON CONFLICT (email) DO NOTHING RETURNING id`;
        if (rows.length === 0) return undefined;
        await beforeCommit(id);
        return id;
      });
    },
    async findByEmail(email) {
      const rows = await sql<{ id: string; password_hash: string }[]>`
        SELECT id, password_hash FROM users WHERE email = ${email}`;
      const row = rows[0];
      return row === undefined ? undefined : { id: row.id, passwordHash: row.password_hash };
    },
  };
}
