/**
 * Postgres going away in the middle of a write must cost the write, never the process:
 * postgres.js 3.4.9 throws from a timer (uncatchable) when a transaction's connection drops,
 * so the snapshot store, signup and migrations write without `sql.begin`. Here the server is
 * stopped while a snapshot is being written; Deno's test runner fails the test on any
 * uncaught error, so a crash of that kind cannot pass unseen.
 */
import assert from "node:assert/strict";
import { connectPostgres, migrate } from "@trading/shared/db";
import { createLogger } from "@trading/shared/log";
import { captureState, encodeParts, hashEncoded } from "../engine/core/snapshot.ts";
import { createState } from "../engine/core/state.ts";
import { applyFields } from "../engine/core/step.ts";
import { SnapshotStore } from "../engine/io/snapshots.ts";
import { startPrivatePostgres } from "./private_postgres.ts";
import { sleep } from "./harness.ts";

const SOURCES = ["engine", "api", "shared", "poller", "gateway"];

Deno.test("no sql.begin or sql.reserve outside tests: their connection drop crashes the process", async () => {
  const offenders: string[] = [];
  for (const dir of SOURCES) {
    for await (const path of walk(new URL(`../${dir}/`, import.meta.url).pathname)) {
      const text = await Deno.readTextFile(path);
      if (/\b(sql|tx)\.(begin|reserve)\(/.test(text)) offenders.push(path);
    }
  }
  assert.deepEqual(offenders, []);
});

Deno.test("Postgres stopped mid-snapshot: the save fails, the process lives, the next save is whole", async () => {
  const pg = await startPrivatePostgres();
  const sql = connectPostgres(pg.url, { max: 4 });
  try {
    await migrate(sql);
    const store = new SnapshotStore(sql, createLogger("test", "error"));
    const state = createState();
    for (let i = 0; i < 50; i++) {
      applyFields(
        state,
        { kind: "create_account", requestId: `r${i}`, userId: `u${i}` },
        `${i + 1}-0`,
      );
    }
    const parts = [...encodeParts(captureState(state), 10)];
    const encoded = parts.join("");
    await store.save(state.lastId, hashEncoded(encoded), parts);

    // A save long enough to be cut: thousands of parts, each its own round trip.
    const many = Array.from({ length: 5000 }, (_, i) => `part ${i} `.padEnd(2000, "x"));
    const cut = store.save("999-0", "not-a-real-hash", many).then(
      () => "finished",
      (error: Error) => error.message,
    );
    await sleep(100);
    await pg.stop();
    const outcome = await cut;
    assert.notEqual(outcome, "finished", "the save should have been cut by the stop");
    await sleep(300); // a stray write scheduled on the dropped socket would throw by now

    await pg.start();
    await migrate(sql); // again, over a live schema: nothing to do, nothing fails
    applyFields(state, { kind: "create_account", requestId: "late", userId: "late" }, "60-0");
    const after = [...encodeParts(captureState(state), 10)];
    const afterHash = hashEncoded(after.join(""));
    const saved = await eventuallySaved(() => store.save(state.lastId, afterHash, after));
    const loaded = await store.loadNewestValid();
    assert.equal(loaded?.id, saved.id);
    assert.equal(loaded?.stateHash, afterHash);
    assert.equal(loaded?.lastId, "60-0");
    const [orphans] = await sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM snapshot_parts
      WHERE snapshot_id NOT IN (SELECT id FROM snapshots)`;
    assert.equal(orphans!.n, 0, "parts of the cut save are swept by the next one");
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
    await pg.destroy();
  }
});

/** The first save after a restart may meet connections the pool has not yet seen close. */
async function eventuallySaved<T>(save: () => Promise<T>): Promise<T> {
  for (let attempt = 0;; attempt++) {
    try {
      return await save();
    } catch (error) {
      if (attempt >= 20) throw error;
      await sleep(250);
    }
  }
}

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}${entry.name}`;
    if (entry.isDirectory && entry.name !== "node_modules") yield* walk(`${path}/`);
    else if (entry.isFile && path.endsWith(".ts") && !path.endsWith("_test.ts")) yield path;
  }
}
