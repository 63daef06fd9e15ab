import assert from "node:assert/strict";
import { apply } from "./apply.ts";
import { InvariantError } from "./codes.ts";
import { decodeState, encodeState, SnapshotError } from "./snapshot.ts";
import { createState, DEFAULT_PARAMS } from "./state.ts";
import { applyFields } from "./step.ts";

const price = { kind: "price", asset: "BTC", bid: 100n, ask: 101n, ts: 0n } as const;

Deno.test("entry IDs must be well-formed and strictly increasing", () => {
  const state = createState();
  apply(state, price, "1000-5");
  for (
    const id of ["1000-5", "1000-4", "999-9", "abc", "1000", "-1", "1000-", "1000-6-1", "1000-6 "]
  ) {
    assert.throws(() => apply(state, price, id), InvariantError, id);
  }
  assert.equal(state.lastId, "1000-5");
  apply(state, price, "1000-6");
  apply(state, price, "1001-0");
  assert.equal(state.lastId, "1001-0");
});

Deno.test("prices of unknown assets are skipped without output", () => {
  const state = createState();
  assert.deepEqual(apply(state, { ...price, asset: "DOGE" }, "1-0"), []);
  assert.equal(state.quotes.size, 0);
});

Deno.test("a malformed entry without requestId is consumed silently; with one it is refused", () => {
  const state = createState();
  const skipped = applyFields(state, { price: "BTC x 1 1" }, "1-0");
  assert.deepEqual(skipped.outputs, []);
  assert.match(skipped.invalidReason!, /integers/);
  const refused = applyFields(state, { kind: "open", requestId: "r1", userId: "u1" }, "2-0");
  assert.equal(refused.outputs.length, 1);
  const answer = refused.outputs[0]!;
  assert.ok(answer.kind === "answer" && !answer.ok && answer.code === "invalid_entry");
  assert.equal(answer.requestId, "r1");
  assert.equal(state.lastId, "2-0");
});

Deno.test("decodeState refuses malformed snapshots with a SnapshotError", () => {
  const good = encodeState(createState());
  const bad = [
    "not json",
    "null",
    good.replace('"v":4', '"v":5'),
    good.replace('"v":4', '"v":0'),
    // A version 2 snapshot had no pending orders, a version 3 one always has the list.
    good.replace('"v":4', '"v":2'),
    good.replace(',"pending":[]', ""),
    good.replace(
      '"pending":[]',
      '"pending":[[1,"ghost","BTC","long","limit","1",1,"1",null,null,null,0,"0"]]',
    ),
    // A fee reserve is never negative.
    good.replace(
      '"pending":[]',
      '"pending":[[1,"ghost","BTC","long","limit","1",1,"1",null,null,null,0,"-1"]]',
    ),
    // Version 4 params end with the fee rate, which is never negative.
    good.replace('200,0],"lastId"', '200,-1],"lastId"'),
    good.replace('200,0],"lastId"', '200],"lastId"'),
    good.replace('"lastId":"0-0"', '"lastId":"zero"'),
    good.replace('"houseCents":"0"', '"houseCents":0.5'),
    good.replace('"accounts":[]', '"accounts":{}'),
    good.replace(
      '"positions":[]',
      '"positions":[[1,"ghost","BTC","long","1",1,"1","1","1",null,null,0,"1",false]]',
    ),
  ];
  for (const text of bad) assert.throws(() => decodeState(text), SnapshotError, text);
  assert.equal(encodeState(decodeState(good)), good);
});

Deno.test("a version 1 snapshot loads: default caps, refusals dropped, keys counted per account", () => {
  const answer = (ok: boolean) =>
    ok
      ? { kind: "answer", cause: "5-0", requestId: "r", userId: "u1", ok: true, result: {} }
      : { kind: "answer", cause: "5-0", requestId: "r", userId: "u1", ok: false, code: "no_price" };
  const v1 = JSON.stringify({
    v: 1,
    params: [50, 5000, 86_400_000, 86_400_000, "500000"],
    lastId: "5-0",
    nextOrderSeq: 1,
    houseCents: "0",
    creditedCents: "500000",
    quotes: [],
    accounts: [["u1", "500000"]],
    positions: [],
    idempotency: [["u1", "kept", 5, answer(true)], ["u1", "refused", 5, answer(false)]],
    orders: [1, []],
  });
  const state = decodeState(v1);
  assert.equal(state.params.maxOpenPositions, DEFAULT_PARAMS.maxOpenPositions);
  assert.equal(state.params.maxIdempotencyKeys, DEFAULT_PARAMS.maxIdempotencyKeys);
  assert.deepEqual([...state.idempotency.keys()], ["u1\nkept"]);
  assert.equal(state.accounts.get("u1")!.idempotencyKeys.size, 1);
  assert.equal(encodeState(decodeState(encodeState(state))), encodeState(state));
  // A retry after the upgrade carries a fingerprint; the key kept from before has none.
  const retry = applyFields(state, {
    kind: "close",
    requestId: "r2",
    userId: "u1",
    orderId: "1",
    idempotencyKey: "kept",
    fingerprint: "abc",
  }, "6-0").outputs[0]!;
  assert.equal(retry.kind === "answer" && retry.ok && retry.replayed, true);
});

Deno.test("a change that leaves an account negative or ownerless is an InvariantError", () => {
  const opened = () => {
    const state = createState();
    applyFields(state, { price: "BTC 9700000 9700050 0" }, "1-0");
    applyFields(state, { kind: "create_account", requestId: "a", userId: "u1" }, "2-0");
    const open = applyFields(state, {
      kind: "open",
      requestId: "o",
      userId: "u1",
      asset: "BTC",
      side: "long",
      marginCents: "10000",
      leverage: "10",
      slippageBps: "100",
      expectedPrice: "9700050",
    }, "3-0").outputs[0]!;
    assert.ok(open.kind === "answer" && open.ok, JSON.stringify(open));
    return state;
  };
  const close = { kind: "close", requestId: "c", userId: "u1", orderId: "1" };
  const owes = opened();
  owes.accounts.get("u1")!.balanceCents = -(10n ** 12n);
  assert.throws(() => applyFields(owes, close, "4-0"), InvariantError);
  const unlocked = opened();
  unlocked.accounts.get("u1")!.lockedCents = 0n;
  assert.throws(() => applyFields(unlocked, close, "4-0"), InvariantError);
  const ownerless = opened();
  ownerless.accounts.delete("u1");
  assert.throws(() => applyFields(ownerless, { price: "BTC 1 2 0" }, "4-0"), InvariantError);
  const intact = opened();
  const closed = applyFields(intact, close, "4-0").outputs[0]!;
  assert.ok(closed.kind === "answer" && closed.ok, JSON.stringify(closed));
});

Deno.test("a version 2 snapshot loads: no pending orders, the default ended-order window", () => {
  const state = createState();
  applyFields(state, { price: "BTC 9700000 9700050 0" }, "1-0");
  applyFields(state, { kind: "create_account", requestId: "a", userId: "u1" }, "2-0");
  applyFields(state, {
    kind: "open",
    requestId: "o",
    userId: "u1",
    asset: "BTC",
    side: "long",
    marginCents: "10000",
    leverage: "10",
    slippageBps: "100",
    expectedPrice: "9700050",
  }, "3-0");
  // Version 2's text: its params end before endedOrdersKept, accounts have no ended orders,
  // and there is no pending list.
  const v2 = asVersion3(encodeState(state))
    .replace('"v":3', '"v":2')
    .replace(`,${DEFAULT_PARAMS.endedOrdersKept}],"lastId"`, '],"lastId"')
    .replace('["u1","490000",[],[]]', '["u1","490000",[]]')
    .replace(',"pending":[]', "");
  assert.match(v2, /"accounts":\[\["u1","490000",\[\]\]\],"positions":\[\[1,/);
  const decoded = decodeState(v2);
  assert.equal(decoded.positions.size, 1);
  assert.equal(decoded.pending.size, 0);
  assert.equal(decoded.params.endedOrdersKept, DEFAULT_PARAMS.endedOrdersKept);
  assert.equal(encodeState(decoded), encodeState(state));
});

/**
 * A version 4 text as version 3 wrote it: no fee rate in the params, positions without their
 * warning price and margin call state, pending orders without a fee reserve.
 */
function asVersion3(v4: string): string {
  return v4
    .replace('"v":4', '"v":3')
    .replace(/,0\],"lastId"/, '],"lastId"')
    .replace(/,"-?\d+",(true|false)\]/g, "]")
    // The last pending order's fee reserve (the tests have at most one).
    .replace(/(,\d+),"\d+"\]\],"idempotency"/, '$1]],"idempotency"');
}

Deno.test("a version 3 snapshot loads: positions get their warning price from their fields, armed", () => {
  const state = createState();
  applyFields(state, { price: "BTC 9700000 9700050 0" }, "1-0");
  applyFields(state, { kind: "create_account", requestId: "a", userId: "u1" }, "2-0");
  const open = {
    kind: "open",
    userId: "u1",
    asset: "BTC",
    side: "long",
    marginCents: "10000",
    leverage: "10",
  };
  applyFields(
    state,
    { ...open, requestId: "o", slippageBps: "100", expectedPrice: "9700050" },
    "3-0",
  );
  applyFields(
    state,
    { ...open, requestId: "p", orderType: "limit", triggerPrice: "9000000" },
    "4-0",
  );
  const v3 = asVersion3(encodeState(state));
  assert.doesNotMatch(v3, /false/, "no margin call state left in the version 3 text");
  assert.match(
    v3,
    /"pending":\[\[2,"u1","BTC","long","limit","10000",10,"9000000",null,null,null,4\]\]/,
  );
  const decoded = decodeState(v3);
  const position = decoded.positions.get(1)!;
  assert.equal(position.warningPrice, state.positions.get(1)!.warningPrice);
  assert.equal(position.marginCalled, false);
  assert.equal(decoded.pending.get(2)!.feeReserveCents, 0n);
  assert.equal(decoded.params.feeBps, 0);
  assert.equal(encodeState(decoded), encodeState(state));
});

Deno.test("a position row's margin call state must be a boolean", () => {
  const state = createState();
  applyFields(state, { price: "BTC 9700000 9700050 0" }, "1-0");
  applyFields(state, { kind: "create_account", requestId: "a", userId: "u1" }, "2-0");
  applyFields(state, {
    kind: "open",
    requestId: "o",
    userId: "u1",
    asset: "BTC",
    side: "long",
    marginCents: "10000",
    leverage: "10",
    slippageBps: "100",
    expectedPrice: "9700050",
  }, "3-0");
  const good = encodeState(state);
  assert.match(good, /,false\]\],"pending"/);
  assert.equal(encodeState(decodeState(good)), good);
  const bad = good.replace(/,false\]\],"pending"/, ',"no"]],"pending"');
  assert.throws(() => decodeState(bad), SnapshotError);
});
