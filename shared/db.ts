/** Postgres (postgres.js) connection and the schema migrations every process may run. */
import postgres from "postgres";

/** The `trades` table's row, declared once beside its DDL below: see `trade_row.ts`. */
export * from "./trade_row.ts";

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
  // Its columns are TRADE_COLUMNS (trade_row.ts) + user_id and cause; trade_row_test.ts checks.
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
  // A snapshot's parts are written before its row (the row is the commit), without a
  // transaction: see SnapshotStore.save.
  `ALTER TABLE snapshot_parts DROP CONSTRAINT IF EXISTS snapshot_parts_snapshot_id_fkey`,
  // One row per close, partial ones included: keyed by the close's id, not the order's. Rows
  // from before get what a full close of theirs would carry today (trade_row.ts,
  // `legacyCloseFields`): all the quantity, all the margin, the id `<cause>-<orderId>`.
  `ALTER TABLE trades ADD COLUMN close_id text, ADD COLUMN closed_quantity text,
     ADD COLUMN released_margin_cents bigint`,
  `UPDATE trades SET close_id = cause || '-' || order_id, closed_quantity = quantity,
     released_margin_cents = margin_cents`,
  `ALTER TABLE trades ALTER COLUMN close_id SET NOT NULL,
     ALTER COLUMN closed_quantity SET NOT NULL, ALTER COLUMN released_margin_cents SET NOT NULL,
     DROP CONSTRAINT trades_pkey, ADD PRIMARY KEY (close_id)`,
  // Rows of one order share closed_at when closed in one millisecond: pages order by close_id.
  `CREATE INDEX IF NOT EXISTS trades_user_closed_close
     ON trades (user_id, closed_at DESC, close_id DESC)`,
  // Candles of the bid (docs/design.md §8): 1-minute rows are written from {e0}:quotes, keeping the
  // last entry applied (last_ms, last_seq) so that an entry applied twice changes nothing; the
  // larger intervals are rolled up from them. `source`: bid, klines (exchange candles of the
  // last trade, from the poller's backfill) or rollup.
  `CREATE TABLE IF NOT EXISTS candles (
     interval text NOT NULL,
     asset text NOT NULL,
     t bigint NOT NULL,
     o bigint NOT NULL,
     h bigint NOT NULL,
     l bigint NOT NULL,
     c bigint NOT NULL,
     n bigint NOT NULL,
     source text NOT NULL,
     last_ms bigint,
     last_seq bigint,
     PRIMARY KEY (interval, asset, t)
   )`,
  // The commission each close paid (trade_row.ts `fee`); closes from before fees paid none.
  `ALTER TABLE trades ADD COLUMN fee_cents bigint NOT NULL DEFAULT 0`,
];

/**
 * Applies the migrations not yet applied, under an advisory lock so processes can race, as
 * one DO statement: atomic without `sql.begin`, whose ROLLBACK after a dropped connection
 * crashes the process (postgres.js 3.4.9, porsager/postgres#1208).
 */
export async function migrate(sql: Sql): Promise<void> {
  await sql.unsafe(migrationScript());
}

/** The DO block that brings a database up to date with MIGRATIONS. */
export function migrationScript(): string {
  const steps = MIGRATIONS.map((statement, index) => {
    const version = index + 1;
    const tag = `$m${version}$`;
    if (statement.includes(tag)) throw new Error(`migration ${version} contains ${tag}`);
    return `
  IF NOT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ${version}) THEN
    EXECUTE ${tag}${statement}${tag};
    INSERT INTO schema_migrations (version) VALUES (${version});
  END IF;`;
  });
  return `DO $migrate$ BEGIN
  PERFORM pg_advisory_xact_lock(727274);
  CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY);${steps.join("")}
END $migrate$`;
}

/** The same server and credentials as `url`, on database `name`. */
export function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}
