/**
 * Runs every golden scenario under engine/testdata/. With UPDATE_GOLDEN=1 the expectations are
 * rewritten from the engine's answers: review the diff by hand before committing it.
 */
import assert from "node:assert/strict";
import { REFUSAL_CODES } from "@trading/shared";
import { conservationGap, totalsOf } from "./core/invariants.ts";
import { runScenario, type Scenario } from "./testdata/scenario.ts";

const dir = new URL("./testdata/", import.meta.url);
const files = [...Deno.readDirSync(dir)]
  .filter((entry) => entry.name.endsWith(".json"))
  .map((entry) => entry.name)
  .sort();
const update = Deno.env.get("UPDATE_GOLDEN") === "1";
const seenCodes = new Set<string>();
const seenTriggers = new Set<string>();

for (const name of files) {
  Deno.test(`scenario ${name.replace(/\.json$/, "")}`, () => {
    const url = new URL(name, dir);
    const scenario: Scenario = JSON.parse(Deno.readTextFileSync(url));
    const { state, actual } = runScenario(scenario);
    assert.equal(conservationGap(state), 0n, "conservation");
    assert.ok(totalsOf(state).minBalanceCents >= 0n, "no negative balance");
    for (const output of actual.outputs) {
      if (output.kind === "answer" && !output.ok) seenCodes.add(output.code);
      if (output.kind === "event" && output.result.event === "closed") {
        seenTriggers.add(`${output.result.type}:${output.result.reason}`);
      }
    }
    if (update) {
      Deno.writeTextFileSync(url, JSON.stringify({ ...scenario, expect: actual }, null, 2) + "\n");
      return;
    }
    assert.deepEqual(actual.outputs, scenario.expect.outputs);
    assert.deepEqual(actual.balances, scenario.expect.balances);
    assert.deepEqual(actual.locked, scenario.expect.locked);
    assert.equal(actual.houseCents, scenario.expect.houseCents);
    assert.deepEqual(actual.openOrders, scenario.expect.openOrders);
    assert.deepEqual(actual.pending, scenario.expect.pending);
    assert.deepEqual(actual.pendingOrders, scenario.expect.pendingOrders);
  });
}

Deno.test("the scenarios cover every refusal code and every trigger on both sides", () => {
  assert.ok(files.length > 0, "no scenario files found");
  assert.deepEqual([...seenCodes].sort(), [...REFUSAL_CODES].sort());
  const triggers = ["long", "short"].flatMap((side) =>
    ["stop_loss", "take_profit", "liquidation"].map((reason) => `${side}:${reason}`)
  );
  assert.deepEqual([...seenTriggers].sort(), triggers.sort());
});
