/** Postgres (postgres.js) connection and the schema migrations every process may run. */
import postgres from "postgres";

export type Sql = postgres.Sql;

export function connectPostgres(url: string, options: { max?: number } = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    onnotice: () => {},
    connect_timeout: 5,
    idle_timeout: 30,
  });
}

/** Ordered, append-only: a migration once released is never edited, only followed. */
const MIGRATIONS: string[] = [
  `CREATE TABLE IF NOT EXISTS users (
     id uuid PRIMARY KEY,
     email text NOT NULL UNIQUE,
     password_hash text NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now()
   )`,
  `CREATE TABLE IF NOT EXISTS snapshots (
     id bigserial PRIMARY KEY,
     last_id text NOT NULL,
     state_hash text NOT NULL,
     state text NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now()
   )`,
  `CREATE TABLE IF NOT EXISTS trades (
     order_id bigint PRIMARY KEY,
     user_id text NOT NULL,
     asset text NOT NULL,
     side text NOT NULL,
     margin_cents bigint NOT NULL,
     leverage integer NOT NULL,
     open_price text NOT NULL,
     close_price text NOT NULL,
     quantity text NOT NULL,
     pnl_cents bigint NOT NULL,
     reason text NOT NULL,
     opened_at bigint NOT NULL,
     closed_at bigint NOT NULL,
     cause text NOT NULL
   )`,
  `CREATE INDEX IF NOT EXISTS trades_user_closed ON trades (user_id, closed_at DESC, order_id DESC)`,
  // Snapshots are stored in parts: one huge parameter would stall the engine while it is sent.
  `ALTER TABLE snapshots ALTER COLUMN state DROP NOT NULL`,
  `CREATE TABLE IF NOT EXISTS snapshot_parts (
     snapshot_id bigint NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
     idx integer NOT NULL,
     data text NOT NULL,
     PRIMARY KEY (snapshot_id, idx)
   )`,
  // Order IDs count from 1 in each engine:input's life; if a stream is ever started afresh
  // beside an old history, its order 1 must not be mistaken for the old one.
  `ALTER TABLE trades DROP CONSTRAINT trades_pkey, ADD PRIMARY KEY (order_id, opened_at)`,
];

/** Applies the migrations not yet applied, under an advisory lock so processes can race. */
export async function migrate(sql: Sql): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(727274)`;
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY)`;
    const done = new Set(
      (await tx<{ version: number }[]>`SELECT version FROM schema_migrations`).map((r) =>
        r.version
      ),
    );
    for (const [index, statement] of MIGRATIONS.entries()) {
      if (done.has(index + 1)) continue;
      await tx.unsafe(statement);
      await tx`INSERT INTO schema_migrations (version) VALUES (${index + 1})`;
    }
  });
}
