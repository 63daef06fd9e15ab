/**
 * The engine's conservation check (io/recovery.ts `conservationBreak`), run after catching up
 * and at every snapshot: silent on every state the core makes, the figures when a cent is off.
 */
import assert from "node:assert/strict";
import { totalsOf } from "../core/invariants.ts";
import { createState, type EngineState } from "../core/state.ts";
import { applyFields } from "../core/step.ts";
import { conservationBreak } from "./recovery.ts";

/** Two accounts, three positions opened, one closed at a loss: house, margin and credit move. */
function tradedState(): EngineState {
  const state = createState();
  let ms = 1_700_000_000_000;
  const step = (fields: Record<string, string>) => {
    const output = applyFields(state, fields, `${ms++}-0`).outputs[0];
    if (output?.kind === "answer") assert.ok(output.ok, JSON.stringify(output));
  };
  step({ price: `BTC 9700000 9700050 ${ms * 1000}` });
  for (const userId of ["alice", "bob"]) {
    step({ kind: "create_account", requestId: `a-${userId}`, userId });
  }
  for (
    const [i, [userId, side]] of [["alice", "long"], ["bob", "short"], ["alice", "short"]]
      .entries()
  ) {
    step({
      kind: "open",
      requestId: `o${i}`,
      userId: userId!,
      asset: "BTC",
      side: side!,
      marginCents: "10000",
      leverage: "10",
      slippageBps: "100",
      expectedPrice: side === "long" ? "9700050" : "9700000",
    });
  }
  step({ price: `BTC 9600000 9600050 ${ms * 1000}` });
  step({ kind: "close", requestId: "c1", userId: "alice", orderId: "1" });
  // A limit order waiting below the ask: its margin is reserved, in no balance.
  step({
    kind: "open",
    requestId: "p1",
    userId: "bob",
    asset: "BTC",
    side: "long",
    marginCents: "5000",
    leverage: "5",
    orderType: "limit",
    triggerPrice: "9500000",
  });
  return state;
}

Deno.test("conservation: nothing to say about a new state or one the core traded in", () => {
  assert.equal(conservationBreak(createState()), undefined);
  const state = tradedState();
  assert.equal(state.accounts.size, 2);
  assert.equal(state.positions.size, 2, "two of three positions still open");
  assert.notEqual(state.houseCents, 0n, "the close moved money to or from the house");
  assert.equal(totalsOf(state).pendingCents, 5000n, "one pending order's margin is reserved");
  assert.equal(conservationBreak(state), undefined);
});

Deno.test("conservation: a cent off anywhere is reported with the figures", () => {
  const corruptions: Array<[string, (state: EngineState) => void, bigint]> = [
    ["a balance", (s) => s.accounts.get("bob")!.balanceCents += 1n, 1n],
    ["a position's margin", (s) => [...s.positions.values()][0]!.marginCents -= 7n, -7n],
    ["a pending order's margin", (s) => [...s.pending.values()][0]!.marginCents += 3n, 3n],
    ["the house", (s) => s.houseCents += 100n, 100n],
    ["the credit", (s) => s.creditedCents += 1n, -1n],
  ];
  for (const [what, corrupt, gapCents] of corruptions) {
    const state = tradedState();
    corrupt(state);
    const broken = conservationBreak(state);
    assert.deepEqual(broken, { gapCents, ...totalsOf(state), lastId: state.lastId }, what);
    assert.equal(
      broken!.balancesCents + broken!.lockedCents + broken!.pendingCents + broken!.houseCents -
        broken!.creditedCents,
      gapCents,
      `${what}: the figures add up to the gap`,
    );
  }
});

Deno.test("conservation: the check reads the state and changes nothing", () => {
  const state = tradedState();
  state.houseCents += 1n;
  const before = totalsOf(state);
  const lastId = state.lastId;
  assert.deepEqual(conservationBreak(state), conservationBreak(state));
  assert.deepEqual(totalsOf(state), before);
  assert.equal(state.lastId, lastId);
});
