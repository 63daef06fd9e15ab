import assert from "node:assert/strict";
import { OUTPUT_STREAM, PRICES_STREAM, replyStream, WRITTEN_KEY } from "@trading/shared/redis";
import { decodeOutput, type EngineOutput } from "@trading/shared/schemas";
import { createState } from "../core/state.ts";
import { applyFields } from "../core/step.ts";
import { orderEventsOf, planWrites, PRICES_STREAM_MAX, REPLY_STREAM_MAX } from "./routing.ts";

/** A small session through the pure core: two API processes asking, a trigger, a refusal. */
/** A fresh core and the outputs of each entry stepped into it, with IDs in order. */
function recorder() {
  const state = createState();
  const outputs: EngineOutput[] = [];
  let seq = 0;
  const step = (fields: Record<string, string>) =>
    outputs.push(...applyFields(state, fields, `1700000000000-${seq++}`).outputs);
  return { outputs, step, lastSeq: () => seq - 1 };
}

function session(): EngineOutput[] {
  const { outputs, step, lastSeq } = recorder();
  step({ kind: "create_account", requestId: "a1", userId: "u1", replyTo: "api-1" });
  step({ kind: "create_account", requestId: "a2", userId: "u2", replyTo: "api-2" });
  step({ price: "BTC 9700000 9700100 1700000000000000" });
  const open = {
    kind: "open",
    userId: "u1",
    asset: "BTC",
    side: "long",
    marginCents: "10000",
    leverage: "10",
    slippageBps: "100",
    expectedPrice: "9700100",
    stopLoss: "9600000",
    idempotencyKey: "k1",
  };
  step({ ...open, requestId: "o1", replyTo: "api-1" });
  // The same key again, through the other process: a replay, answered there.
  step({ ...open, requestId: "o1b", replyTo: "api-2" });
  step({ kind: "query", requestId: "q1", userId: "u2", replyTo: "api-2" });
  step({ kind: "close", requestId: "c1", userId: "u2", orderId: "1", replyTo: "api-2" });
  // Nobody asked for this one's answer.
  step({ kind: "query", requestId: "q2", userId: "u1" });
  // Malformed, but addressed: its refusal goes to its process.
  step({ kind: "open", requestId: "bad", userId: "u1", replyTo: "api-1" });
  step({ price: "BTC 9500000 9500100 1700000000001000" }); // the stop-loss fires
  // The batch forwards the latest quote (engine/io/batch.ts does, not the core).
  outputs.push({
    kind: "price",
    cause: `1700000000000-${lastSeq()}`,
    asset: "BTC",
    bid: "95000",
    ask: "95001",
    ts: 1700000000001,
  });
  return outputs;
}

Deno.test("answers go to the asking process's reply stream only; events and prices to theirs", () => {
  const outputs = session();
  const plan = planWrites(outputs);
  const byStream = new Map<string, EngineOutput[]>();
  for (const { stream, maxLen, fields } of plan.adds) {
    if (stream === PRICES_STREAM) assert.equal(maxLen, PRICES_STREAM_MAX);
    else if (stream.startsWith(replyStream(""))) assert.equal(maxLen, REPLY_STREAM_MAX);
    else assert.equal(maxLen, undefined, "the output stream is trimmed after history, not capped");
    byStream.set(stream, [...(byStream.get(stream) ?? []), decodeOutput(fields)!]);
  }
  const requestIds = (stream: string) =>
    (byStream.get(stream) ?? []).map((o) => o.kind === "answer" ? o.requestId : o.kind);
  assert.deepEqual(requestIds(replyStream("api-1")), ["a1", "o1", "bad"]);
  assert.deepEqual(requestIds(replyStream("api-2")), ["a2", "o1b", "q1", "c1"]);
  assert.deepEqual(plan.replyStreams.sort(), [replyStream("api-1"), replyStream("api-2")]);
  assert.equal(plan.unaddressed, 1);
  // The replayed open is answered through api-2 but is no second event.
  const replayed = byStream.get(replyStream("api-2"))!.find((o) =>
    o.kind === "answer" && o.requestId === "o1b"
  );
  assert.ok(replayed?.kind === "answer" && replayed.replayed === true);
  // Events: the open the user asked for, then the stop-loss; never an answer.
  const events = byStream.get(OUTPUT_STREAM)!;
  assert.ok(events.every((o) => o.kind === "event"));
  assert.deepEqual(
    events.map((o) =>
      o.kind === "event" &&
      [o.userId, o.result.event, "orderId" in o.result ? o.result.orderId : "", o.cause].join(" ")
    ),
    [
      "u1 opened 1 1700000000000-3",
      "u1 closed 1 1700000000000-9",
    ],
  );
  assert.deepEqual(byStream.get(PRICES_STREAM)!.map((o) => o.kind), ["price"]);
  assert.deepEqual(plan.written, { key: WRITTEN_KEY, cause: outputs.at(-1)!.cause });
});

Deno.test("a batch with nothing to say writes nothing, not even its cause", () => {
  const plan = planWrites([]);
  assert.deepEqual(plan, { adds: [], replyStreams: [], written: undefined, unaddressed: 0 });
});

Deno.test("each answer that changed an order is its events: one per close of a closeAll", () => {
  const { outputs, step } = recorder();
  step({ kind: "create_account", requestId: "a1", userId: "u1", replyTo: "api-1" });
  step({ price: "BTC 9700000 9700100 1700000000000000" });
  const open = {
    kind: "open",
    userId: "u1",
    asset: "BTC",
    side: "long",
    marginCents: "10000",
    leverage: "10",
    slippageBps: "100",
    expectedPrice: "9700100",
    replyTo: "api-1",
  };
  step({ ...open, requestId: "o1" });
  step({ ...open, requestId: "o2" });
  const { slippageBps: _, expectedPrice: _price, ...pending } = open;
  step({ ...pending, requestId: "o3", orderType: "limit", triggerPrice: "9000000" });
  step({ kind: "modify", requestId: "m1", userId: "u1", orderId: "3", takeProfit: "9900000" });
  step({ kind: "cancel", requestId: "n1", userId: "u1", orderId: "3" });
  step({ kind: "close", requestId: "c1", userId: "u1", orderId: "1", quantity: "500000" });
  step({ kind: "close_all", requestId: "x1", userId: "u1", replyTo: "api-1" });
  step({ kind: "reset", requestId: "z1", userId: "u1", replyTo: "api-1" });
  const decoded = planWrites(outputs).adds.filter((add) => add.stream === OUTPUT_STREAM)
    .map((add) => decodeOutput(add.fields)!);
  const events = decoded.map((o) =>
    o.kind === "event"
      ? `${o.result.event} ${"orderId" in o.result ? o.result.orderId : "-"} ${o.cause}`
      : o.kind
  );
  assert.deepEqual(events, [
    "opened 1 1700000000000-2",
    "opened 2 1700000000000-3",
    "placed 3 1700000000000-4",
    "modified 3 1700000000000-5",
    "cancelled 3 1700000000000-6",
    "partially_closed 1 1700000000000-7",
    "closed 1 1700000000000-8",
    "closed 2 1700000000000-8",
    "reset - 1700000000000-9",
  ]);
  // Every event carries the account's figures, read back from the stream as written.
  for (const o of decoded) assert.ok(o.kind === "event" && o.account !== undefined, o.cause);
  const last = decoded.at(-1)!;
  assert.ok(last.kind === "event");
  assert.deepEqual(last.account, {
    balance: "500000",
    locked: "0",
    pending: "0",
    equity: "500000",
  });
  const opened = decoded[0]!;
  assert.ok(opened.kind === "event");
  assert.equal(opened.account!.locked, "10000", "after the first open: its margin is locked");
  const partial = outputs.find((o) => o.kind === "answer" && o.requestId === "c1")!;
  assert.ok(partial.kind === "answer" && partial.ok);
  assert.equal(orderEventsOf(partial)[0]!.result.event, "partially_closed");
  const { result } = orderEventsOf(partial)[0]!;
  assert.ok(result.event === "partially_closed" && result.closeId === "1700000000000-7-1");
});
