/**
 * Crash equivalence: a seeded workload (market and pending orders, cancels, expiries, modifies,
 * partial closes, closeAll) streams into the input stream while the engine is killed with
 * SIGKILL again and again (some kills land mid-snapshot). The survivor must end with the state
 * hash of an uncrashed run over the same stream, every instruction must have exactly one answer
 * — the same answer the uncrashed run gives — every order event must be written once, and every
 * close, partial or full, must be exactly one history row.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type { Cluster, Redis } from "ioredis";
import {
  ENGINE_STATUS_KEY,
  type EngineOutput,
  INPUT_STREAM,
  OUTPUT_STREAM,
  replyStream,
} from "@trading/shared";
import { decodeOutput } from "@trading/shared/schemas";
import { orderEventsOf } from "../engine/io/routing.ts";
import { encodeState, stateHash } from "../engine/core/snapshot.ts";
import { compareStreamIds as compareIds } from "../engine/core/stream_id.ts";
import { createState } from "../engine/core/state.ts";
import { applyFields } from "../engine/core/step.ts";
import { allOpArbitrary, toEntries } from "../engine/testdata/workload.ts";
import { type Env, eventually, sleep } from "./harness.ts";

const SEED = 424242;

/** The API process the workload's instructions name: the test reads its reply stream. */
const REPLY_TO = "crash-test";

/**
 * Reads the output stream (events) and the test's reply stream (answers) from the start, as a
 * gateway and an API would, keeping every entry.
 */
function collectOutputs(reader: Redis | Cluster) {
  const outputs: EngineOutput[] = [];
  const lastIds = ["0-0", "0-0"];
  const streams = [OUTPUT_STREAM, replyStream(REPLY_TO)];
  let running = true;
  const done = (async () => {
    while (running) {
      const reply = await reader.xread(
        "COUNT",
        1000,
        "BLOCK",
        200,
        "STREAMS",
        ...streams,
        ...lastIds,
      ) as
        | Array<[string, Array<[string, string[]]>]>
        | null;
      for (const [stream, entries] of reply ?? []) {
        for (const [id, flat] of entries) {
          lastIds[streams.indexOf(stream)] = id;
          const output = decodeOutput(flat);
          if (output !== undefined) outputs.push(output);
        }
      }
    }
  })();
  return {
    outputs,
    async stop() {
      running = false;
      await done;
      reader.disconnect();
    },
  };
}

async function engineStatus(env: Env): Promise<Record<string, string>> {
  return await env.redis.hgetall(ENGINE_STATUS_KEY);
}

export interface CrashOptions {
  /** Seeded workload operations streamed in. */
  ops: number;
  /** SIGKILLs of the engine while they stream (every third aimed at a snapshot start). */
  kills: number;
  /** A new connection of its own for the test's blocking reads (one Redis or the cluster). */
  newReader: () => Redis | Cluster;
}

/**
 * Runs the crash scenario in `env` (started with SNAPSHOT_INTERVAL_MS 150 and LOG_LEVEL debug:
 * the kills aim at "snapshot started" lines) and asserts everything the module's comment says,
 * and that `deno task replay` of the stream gives the same state hash.
 */
export async function crashScenario(env: Env, options: CrashOptions): Promise<void> {
  const OPS = options.ops;
  const KILLS = options.kills;
  {
    const ops = fc.sample(fc.array(allOpArbitrary, { minLength: OPS, maxLength: OPS }), {
      seed: SEED,
      numRuns: 1,
    })[0]!;
    // Every instruction names the test as the process to answer. Each entry is written under
    // the ID the workload gave it, so stream time is the workload's own (its pending orders
    // fill, expire and are cancelled as in a pure run); its clock starts a minute ahead of ours,
    // above any entry already in the stream.
    const workload = toEntries(ops, Date.now() + 60_000).map(({ id, fields }) => ({
      id,
      fields: fields.requestId === undefined ? fields : { ...fields, replyTo: REPLY_TO },
    }));
    const collector = collectOutputs(options.newReader());
    let engine = await env.startEngine();

    // Write the workload at a steady pace while the engine is killed and restarted.
    const written: Array<{ id: string; fields: Record<string, string> }> = [];
    let writing = true;
    const writer = (async () => {
      for (let i = 0; i < workload.length; i += 25) {
        const chunk = workload.slice(i, i + 25);
        const pipeline = env.redis.pipeline();
        for (const entry of chunk) {
          pipeline.xadd(INPUT_STREAM, entry.id, ...Object.entries(entry.fields).flat());
        }
        const results = await pipeline.exec();
        results!.forEach(([error, id], j) => {
          if (error) throw error;
          written.push({ id: id as string, fields: chunk[j]!.fields });
        });
        await sleep(50);
      }
      writing = false;
    })();

    const random = fc.sample(fc.integer({ min: 150, max: 700 }), { seed: SEED, numRuns: KILLS });
    let midSnapshot = 0;
    for (let kill = 0; kill < KILLS; kill++) {
      if (kill % 3 === 0 && writing) {
        // Aim at a snapshot in progress: kill the moment one starts.
        const seen = engine.output.length;
        await eventually(
          "a snapshot starting",
          () => engine.output.slice(seen).some((line) => line.includes("snapshot started")),
          10_000,
        );
        midSnapshot++;
      } else {
        await sleep(random[kill]!);
      }
      await engine.kill("SIGKILL");
      engine = await env.startEngine();
    }
    await writer;
    const lastInputId = written.at(-1)!.id;

    // The uncrashed run, over exactly the entries (and IDs) the stream holds.
    const reference = createState();
    const referenceOutputs: EngineOutput[] = [];
    for (const { id, fields } of written) {
      referenceOutputs.push(...applyFields(reference, fields, id).outputs);
    }
    const expectedHash = stateHash(reference);

    const status = await eventually("the engine to snapshot the final state", async () => {
      const s = await engineStatus(env);
      return s.stateHashId === lastInputId ? s : undefined;
    }, 30_000);
    if (status.stateHash !== expectedHash) await explainDivergence(env, written);
    assert.equal(
      status.stateHash,
      expectedHash,
      "state hash after crashes differs from the uncrashed run",
    );

    // Every instruction: exactly one answer, equal to the uncrashed run's.
    const expectedAnswers = referenceOutputs.filter((o) => o.kind === "answer").length;
    try {
      await eventually(
        "all answers",
        () => collector.outputs.filter((o) => o.kind === "answer").length >= expectedAnswers,
      );
    } catch (error) {
      const got = new Set(collector.outputs.map((o) => o.kind === "answer" ? o.requestId : ""));
      const missing = referenceOutputs.filter((o) => o.kind === "answer" && !got.has(o.requestId));
      console.log("MISSING", missing.length, JSON.stringify(missing.slice(0, 3)));
      console.log(
        "COLLECTED",
        collector.outputs.length,
        "xlen",
        await env.redis.xlen(OUTPUT_STREAM),
      );
      throw error;
    }
    await sleep(300);
    await collector.stop();
    const answers = new Map<string, EngineOutput[]>();
    for (const output of collector.outputs) {
      if (output.kind !== "answer") continue;
      answers.set(output.requestId, [...(answers.get(output.requestId) ?? []), output]);
    }
    const requestIds = written.map((w) => w.fields.requestId).filter((r): r is string =>
      r !== undefined
    );
    assert.equal(requestIds.length, new Set(requestIds).size);
    for (const expected of referenceOutputs) {
      if (expected.kind !== "answer") continue;
      const got = answers.get(expected.requestId) ?? [];
      assert.equal(got.length, 1, `request ${expected.requestId} answered ${got.length} times`);
      // Its address is the stream it was read from, not a field of the entry.
      const { replyTo, ...answer } = expected;
      assert.equal(replyTo, REPLY_TO);
      assert.deepEqual(got[0], answer);
    }
    assert.equal(answers.size, new Set(requestIds).size);
    const key = (o: EngineOutput) =>
      o.kind === "event"
        ? `${o.cause}/${"orderId" in o.result ? o.result.orderId : ""}/${o.result.event}`
        : "";
    const events = (list: EngineOutput[]) =>
      list.filter((o) => o.kind === "event").sort((a, b) => key(a).localeCompare(key(b)));
    // Order events: the triggers' closes, fills and expiries, and the events of every first
    // change a user asked for (a closeAll's one per close).
    const expectedEvents = referenceOutputs.flatMap((o) =>
      o.kind === "event" ? [o] : orderEventsOf(o)
    );
    assert.deepEqual(events(collector.outputs), events(expectedEvents), "order events differ");
    const counts = Object.groupBy(expectedEvents, (e) => e.result.event);
    const summary = Object.entries(counts).map(([name, list]) => `${name} ${list?.length}`);
    const kinds = [
      "placed",
      "filled",
      "cancelled",
      "expired",
      "modified",
      "partially_closed",
    ] as const;
    for (const event of kinds) {
      assert.ok(counts[event] !== undefined, `the workload made no ${event} event: ${summary}`);
    }

    // Every close, partial or full, exactly one history row.
    const closed = expectedEvents.flatMap((e) =>
      (e.result.event === "closed" || e.result.event === "partially_closed") &&
        e.result.closeId !== undefined
        ? [e.result.closeId]
        : []
    ).sort();
    assert.ok(closed.length > 50, `workload closed only ${closed.length} positions`);
    const rows = await eventually("history rows", async () => {
      const result = await env.sql<{ close_id: string }[]>`SELECT close_id FROM trades`;
      return result.length >= closed.length ? result : undefined;
    }, 10_000);
    assert.deepEqual(rows.map((r) => r.close_id).sort(), closed);

    // A replay of the stream from its start (what `deno task replay` does) agrees too.
    const replay = env.spawn("replay", "engine/replay.ts", {});
    await replay.child.status;
    await eventually(
      "the replay's hash line",
      () => replay.output.some((line) => line.startsWith("state hash")),
      5000,
    );
    assert.equal(
      replay.output.find((line) => line.startsWith("state hash")),
      `state hash ${expectedHash}`,
      replay.output.join("\n"),
    );

    console.log(
      `crash test: ${written.length} entries, ${KILLS} SIGKILLs (${midSnapshot} at a snapshot start), ` +
        `${
          referenceOutputs.filter((o) => o.kind === "answer").length
        } answers, ${closed.length} closes, hash ${expectedHash.slice(0, 12)}`,
    );
  }
}

/** On a hash mismatch: which kept snapshot first differs from the uncrashed run, and where. */
async function explainDivergence(
  env: Env,
  written: Array<{ id: string; fields: Record<string, string> }>,
) {
  const snapshots = await env.sql<{ last_id: string; state: string }[]>`
    SELECT s.last_id, string_agg(p.data, '' ORDER BY p.idx) AS state
    FROM snapshots s JOIN snapshot_parts p ON p.snapshot_id = s.id GROUP BY s.id ORDER BY s.id`;
  for (const snapshot of snapshots) {
    const reference = createState();
    for (const { id, fields } of written) {
      if (compareIds(id, snapshot.last_id) > 0) break;
      applyFields(reference, fields, id);
    }
    const expected = JSON.parse(encodeState(reference));
    const actual = JSON.parse(snapshot.state);
    for (const key of Object.keys(expected)) {
      const [e, a] = [JSON.stringify(expected[key]), JSON.stringify(actual[key])];
      if (e !== a) {
        console.log(
          `snapshot ${snapshot.last_id}: ${key} differs\n  uncrashed ${
            e.slice(0, 500)
          }\n  crashed   ${a.slice(0, 500)}`,
        );
      }
    }
  }
}
