/**
 * Properties of the state machine over >= 1,000 seeded random workloads each: conservation,
 * no negative balance, determinism, snapshot + replay equivalence and exact round-trips.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type { EngineOutput } from "@trading/shared";
import { type StreamEntry, toEntries, workloadArbitrary } from "../testdata/workload.ts";
import { conservationGap, limitBreach, totalsOf } from "./invariants.ts";
import { accountFigures } from "./queries.ts";
import { captureState, decodeState, encodeParts, encodeState, stateHash } from "./snapshot.ts";
import { createState, DEFAULT_PARAMS, type EngineParams, type EngineState } from "./state.ts";
import { applyFields } from "./step.ts";

const RUNS = { numRuns: 1000, seed: 20261125 };
/** Caps small enough that random workloads meet them: refusals and forgotten keys replay too. */
const CAPPED: EngineParams = {
  ...DEFAULT_PARAMS,
  maxOpenPositions: 2,
  maxIdempotencyKeys: 3,
  closedOrdersKept: 3,
  maxPendingOrders: 1,
  endedOrdersKept: 3,
};
/** The same with a commission from the start (workloads also change the rate on the way). */
const CAPPED_FEES: EngineParams = { ...CAPPED, feeBps: 25 };

/** Accounts as the snapshot sees them: closed orders beyond the kept window are not state. */
function accountsSeen(state: EngineState) {
  const { closedOrdersKept, endedOrdersKept } = state.params;
  return [...state.accounts.values()].map((a) => ({
    ...a,
    closedSeqs: a.closedSeqs.slice(-closedOrdersKept),
    endedOrders: a.endedOrders.slice(-endedOrdersKept),
  }));
}

function run(state: EngineState, entries: readonly StreamEntry[]): EngineOutput[] {
  const outputs: EngineOutput[] = [];
  for (const entry of entries) outputs.push(...applyFields(state, entry.fields, entry.id).outputs);
  return outputs;
}

Deno.test("conservation, no negative balance and the caps hold after every entry", () => {
  fc.assert(
    fc.property(workloadArbitrary, fc.boolean(), (ops, fees) => {
      const state = createState(fees ? CAPPED_FEES : CAPPED);
      for (const entry of toEntries(ops)) {
        const houseBefore = state.houseCents;
        const { outputs } = applyFields(state, entry.fields, entry.id);
        assert.equal(conservationGap(state), 0n);
        assert.ok(totalsOf(state).minBalanceCents >= 0n);
        assert.equal(limitBreach(state), undefined);
        feesCharged(outputs, state.houseCents - houseBefore);
        figuresAfterEntry(state, outputs);
      }
    }),
    RUNS,
  );
});

/** Every order event carries its account's figures as they are after the whole entry. */
function figuresAfterEntry(state: EngineState, outputs: readonly EngineOutput[]): void {
  for (const output of outputs) {
    if (output.kind !== "event") continue;
    assert.deepEqual(output.account, accountFigures(state, state.accounts.get(output.userId)!));
  }
}

/**
 * Every fee an entry's outputs report is ≥ 0 and went to the house: with no position closed at
 * a loss, the house's change is exactly the fees (a loss a close absorbs adds to it).
 */
function feesCharged(outputs: readonly EngineOutput[], houseChange: bigint): void {
  let fees = 0n;
  let closes = false;
  for (const output of outputs) {
    const results = output.kind === "event"
      ? [output.result]
      : output.kind === "answer" && output.ok && !output.replayed
      ? output.result.event === "closed_all" ? output.result.closed : [output.result]
      : [];
    for (const result of results) {
      if (!("fee" in result) || result.fee === undefined) continue;
      assert.ok(BigInt(result.fee) >= 0n, JSON.stringify(result));
      fees += BigInt(result.fee);
      if (result.event === "closed" || result.event === "partially_closed") closes = true;
    }
  }
  if (!closes) assert.equal(houseChange, fees);
}

Deno.test("the same stream gives the same outputs and the same hash", () => {
  fc.assert(
    fc.property(workloadArbitrary, (ops) => {
      const entries = toEntries(ops);
      const first = createState();
      const second = createState();
      assert.deepEqual(run(first, entries), run(second, entries));
      assert.equal(stateHash(first), stateHash(second));
    }),
    RUNS,
  );
});

Deno.test("snapshot at any point plus replay of the rest equals the straight run", () => {
  fc.assert(
    fc.property(workloadArbitrary, fc.nat(), (ops, cut) => {
      const entries = toEntries(ops);
      const at = cut % (entries.length + 1);
      const straight = createState(CAPPED_FEES);
      const straightOutputs = run(straight, entries);
      const before = createState(CAPPED_FEES);
      const prefixOutputs = run(before, entries.slice(0, at));
      const restored = decodeState(encodeState(before));
      const restOutputs = run(restored, entries.slice(at));
      assert.deepEqual([...prefixOutputs, ...restOutputs], straightOutputs);
      assert.equal(stateHash(restored), stateHash(straight));
    }),
    RUNS,
  );
});

Deno.test("decode(encode(state)) equals the state, derived indexes included", () => {
  fc.assert(
    fc.property(workloadArbitrary, (ops) => {
      const state = createState(CAPPED);
      run(state, toEntries(ops));
      const encoded = encodeState(state);
      // Encoding in small parts (as the engine does while it keeps running) gives the same text.
      assert.equal([...encodeParts(captureState(state), 2)].join(""), encoded);
      const decoded = decodeState(encoded);
      assert.equal(encodeState(decoded), encoded);
      assert.deepEqual(accountsSeen(decoded), accountsSeen(state));
      assert.deepEqual(decoded.positions, state.positions);
      assert.deepEqual(decoded.pending, state.pending);
      assert.deepEqual(decoded.quotes, state.quotes);
      assert.deepEqual(decoded.idempotency, state.idempotency);
      assert.deepEqual(decoded.params, state.params);
      for (
        const key of ["lastId", "lastMs", "lastSeqInMs", "nextOrderSeq", "houseCents"] as const
      ) {
        assert.equal(decoded[key], state[key]);
      }
    }),
    RUNS,
  );
});

Deno.test("workloads exercise opens, closes, every trigger kind and every pending-order event", () => {
  // Guards the generator: properties over workloads that never trade would prove nothing.
  const seen = new Map<string, number>();
  fc.assert(
    fc.property(workloadArbitrary, (ops) => {
      for (const output of run(createState(CAPPED), toEntries(ops))) {
        const label = labelOf(output);
        seen.set(label, (seen.get(label) ?? 0) + 1);
      }
    }),
    RUNS,
  );
  const labels = ["opened", "closed", "stop_loss", "take_profit", "liquidation"];
  labels.push("too_many_positions", "idempotency_key_reused", "open_positions");
  labels.push("placed", "filled", "cancelled", "expired", "modified", "partially_closed");
  labels.push("closed_all", "invalid_quantity", "pending_orders", "orders_history");
  labels.push("margin_call", "positions_open");
  const counts = JSON.stringify(Object.fromEntries(seen));
  for (const label of labels) {
    assert.ok((seen.get(label) ?? 0) >= 100, `${label} too rare in ${counts}`);
  }
  // Refusals that need an order in a particular state: rarer, still there.
  for (const label of ["too_many_orders", "order_not_pending", "order_closed", "reset"]) {
    assert.ok((seen.get(label) ?? 0) >= 20, `${label} too rare in ${counts}`);
  }
});

/** What an output came to: a trigger's reason, an answer's event or refusal code, else its kind. */
function labelOf(output: EngineOutput): string {
  if (output.kind === "event") {
    return output.result.event === "closed" ? output.result.reason : output.result.event;
  }
  if (output.kind !== "answer") return output.kind;
  return output.ok ? output.result.event : output.code;
}
