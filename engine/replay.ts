/**
 * `deno task replay [--snapshot ID | --from-start] [--until STREAM_ID]`: loads a snapshot
 * (the oldest kept by default), replays engine:input to its end without writing anything, and
 * prints entries replayed, rate and the state hash, to compare with the live engine's /health.
 */
import { connectPostgres, migrate } from "@trading/shared/db";
import { createLogger } from "@trading/shared/log";
import { loadConfigOrExit } from "@trading/shared/process";
import { connectRedis, INPUT_STREAM, redisTargetOf } from "@trading/shared/redis";
import { stateHash } from "./core/snapshot.ts";
import { createState, DEFAULT_PARAMS, type EngineState } from "./core/state.ts";
import { compareStreamIds } from "./core/stream_id.ts";
import { applyBatch, idText, type StreamEntryBytes } from "./io/batch.ts";
import { assertNoGap, StreamGapError } from "./io/recovery.ts";
import { SnapshotStore } from "./io/snapshots.ts";

function arg(name: string): string | undefined {
  const index = Deno.args.indexOf(name);
  return index >= 0 ? Deno.args[index + 1] : undefined;
}

const config = loadConfigOrExit();
if (config.databaseUrl === undefined && !Deno.args.includes("--from-start")) {
  console.error("DATABASE_URL is required to load a snapshot (or pass --from-start)");
  Deno.exit(2);
}
const log = createLogger("replay", "warn");
const redis = connectRedis(redisTargetOf(config), { name: "replay", log });
const until = arg("--until");

let state: EngineState;
let from = "the start of the stream";
if (Deno.args.includes("--from-start")) {
  // A stream's parameters are set by its configure entries, never by this environment.
  state = createState(DEFAULT_PARAMS);
  try {
    await assertNoGap(redis, state.lastId);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    Deno.exit(1);
  }
} else {
  const sql = connectPostgres(config.databaseUrl!, { max: 1 });
  await migrate(sql);
  const store = new SnapshotStore(sql, log);
  const chosen = arg("--snapshot");
  // Against a live engine, the oldest snapshot and the stream before it may be dropped while
  // we load it (the engine keeps SNAPSHOTS_KEPT and trims behind the oldest): choose again.
  for (let attempt = 1;; attempt++) {
    let loaded;
    if (chosen !== undefined) {
      loaded = await store.load(chosen);
      if (loaded === undefined) {
        console.error(`snapshot ${chosen} is missing or does not verify`);
        Deno.exit(1);
      }
    } else {
      // The oldest that loads: one dropped since the list, or one that does not verify, is
      // passed over for the next.
      for (const meta of (await store.list()).reverse()) {
        loaded = await store.load(meta.id);
        if (loaded !== undefined) break;
      }
    }
    state = loaded?.state ?? createState(DEFAULT_PARAMS);
    from = loaded ? `snapshot ${loaded.id} (${loaded.lastId})` : from;
    try {
      await assertNoGap(redis, state.lastId);
      break;
    } catch (error) {
      if (!(error instanceof StreamGapError) || chosen !== undefined || attempt >= 5) {
        console.error(error instanceof Error ? error.message : String(error));
        Deno.exit(1);
      }
    }
  }
  await sql.end();
}

const started = performance.now();
let replayed = 0;
outer: for (;;) {
  // As bytes, exactly as the engine reads them, so both decode every entry the same way.
  const entries = await redis.xrangeBuffer(
    INPUT_STREAM,
    `(${state.lastId}`,
    "+",
    "COUNT",
    10_000,
  ) as StreamEntryBytes[];
  if (entries.length === 0) break;
  for (let i = 0; i < entries.length; i++) {
    if (until !== undefined && compareStreamIds(idText(entries[i]![0]), until) > 0) {
      applyBatch(state, entries.slice(0, i), "0-0");
      replayed += i;
      break outer;
    }
  }
  applyBatch(state, entries, "0-0");
  replayed += entries.length;
}
const seconds = (performance.now() - started) / 1000;
console.log(
  `replayed ${replayed} entries from ${from} in ${seconds.toFixed(3)} s ` +
    `(${Math.round(replayed / Math.max(seconds, 1e-9))} entries/s)`,
);
console.log(`last id    ${state.lastId}`);
console.log(`state hash ${stateHash(state)}`);
redis.disconnect();
