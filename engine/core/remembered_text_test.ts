import assert from "node:assert/strict";
import { createState, MAX_REMEMBERED_CHARS } from "./state.ts";
import { applyFields } from "./step.ts";
import { limitBreach } from "./invariants.ts";

Deno.test("keyed closeAll answers cannot make one account remember more than MAX_REMEMBERED_CHARS", () => {
  const state = createState();
  let seq = 0;
  const id = () => `1700000000000-${seq++}`;
  const step = (fields: Record<string, string>) => applyFields(state, fields, id()).outputs;
  step({ kind: "create_account", requestId: "a", userId: "u1" });
  let largest = 0;
  for (let round = 0; round < 30; round++) {
    step({ price: `BTC 9700000 9700100 ${1700000000000000 + round}` });
    // 200 small positions without keys (opens need none), then one keyed closeAll of them all.
    for (let i = 0; i < 200; i++) {
      const [answer] = step({
        kind: "open",
        requestId: `o${round}-${i}`,
        userId: "u1",
        asset: "BTC",
        side: "long",
        marginCents: "100",
        leverage: "1",
        slippageBps: "100",
        expectedPrice: "9700100",
      });
      assert.ok(answer?.kind === "answer" && answer.ok, JSON.stringify(answer));
    }
    const [closed] = step({
      kind: "close_all",
      requestId: `c${round}`,
      userId: "u1",
      idempotencyKey: `all-${round}`,
    });
    assert.ok(closed?.kind === "answer" && closed.ok);
    largest = Math.max(largest, JSON.stringify(closed.result).length);
    const account = state.accounts.get("u1")!;
    assert.ok(account.idempotencyChars <= MAX_REMEMBERED_CHARS, `${account.idempotencyChars}`);
    assert.equal(limitBreach(state), undefined);
  }
  // Each answer is large, so only the newest few keys are still remembered...
  const keys = state.accounts.get("u1")!.idempotencyKeys.size;
  assert.ok(largest > 50_000 && keys === Math.floor(MAX_REMEMBERED_CHARS / largest), `${keys}`);
  // ...and the newest one still answers a retry, unchanged.
  const [again] = step({
    kind: "close_all",
    requestId: "retry",
    userId: "u1",
    idempotencyKey: "all-29",
  });
  assert.ok(again?.kind === "answer" && again.ok && again.replayed === true);
});
