import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeFlat, decodeFlatBytes, fieldsFromArray } from "./flat.ts";
import { decodeInput, instructionEntrySchema } from "./input.ts";

Deno.test("a field named __proto__ stays a field and makes the entry invalid", () => {
  const fields = fieldsFromArray(["price", "BTC 1 2 3", "__proto__", "x"]);
  assert.equal(Object.getPrototypeOf(fields), Object.prototype);
  assert.equal(Object.hasOwn(fields, "__proto__"), true);
  assert.equal(decodeInput(fields).ok, false);
  assert.equal(decodeFlat(["price", "BTC 1 2 3", "__proto__", "x"]).ok, false);
});

Deno.test("fieldsFromArray marks a repeated field so the entry is refused", () => {
  const fields = fieldsFromArray([
    "kind",
    "close",
    "requestId",
    "r",
    "userId",
    "u",
    "orderId",
    "1",
  ]);
  assert.ok(decodeInput(fields).ok);
  const twice = fieldsFromArray([
    "kind",
    "close",
    "requestId",
    "r",
    "userId",
    "u",
    "userId",
    "v",
    "orderId",
    "1",
  ]);
  assert.equal(decodeInput(twice).ok, false);
});

Deno.test("decodeFlat agrees with decodeInput on any flat reply", () => {
  const value = fc.oneof(
    fc.constantFrom(
      "price",
      "kind",
      "BTC 1 2 3",
      "ETH 350000 350010 0",
      "BTC 2 1 0",
      "query",
      "r1",
      "u1",
    ),
    fc.string({ maxLength: 12 }),
  );
  fc.assert(
    fc.property(fc.array(value, { maxLength: 8 }), (flat) => {
      const fromFlat = decodeFlat(flat);
      const fromObject = decodeInput(fieldsFromArray(flat));
      assert.deepEqual(fromFlat.ok, fromObject.ok, JSON.stringify(flat));
      if (fromFlat.ok && fromObject.ok) assert.deepEqual(fromFlat.entry, fromObject.entry);
    }),
    { numRuns: 5000, seed: 99 },
  );
});

Deno.test("the instruction fast path accepts exactly what zod accepts, with the same result", () => {
  const value = (good: string[]) =>
    fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom(...good) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          "",
          "0",
          "-1",
          "1e3",
          "01",
          " 1",
          "101",
          "10001",
          "x".repeat(65),
          "a b",
          "BTC",
        ),
      },
      { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
    );
  const fieldsOf: Record<string, string[]> = {
    open: [
      "requestId",
      "userId",
      "asset",
      "side",
      "marginCents",
      "leverage",
      "slippageBps",
      "expectedPrice",
    ],
    // The same kind again: a pending order, whose market-only fields are optional.
    open_pending: [
      "requestId",
      "userId",
      "asset",
      "side",
      "marginCents",
      "leverage",
      "orderType",
      "triggerPrice",
    ],
    close: ["requestId", "userId", "orderId"],
    cancel: ["requestId", "userId", "orderId"],
    modify: ["requestId", "userId", "orderId"],
    close_all: ["requestId", "userId"],
    query: ["requestId", "userId"],
    create_account: ["requestId", "userId"],
  };
  const keyed = ["replyTo", "idempotencyKey", "fingerprint"];
  const optionalOf: Record<string, string[]> = {
    open: [...keyed, "stopLoss", "takeProfit", "orderType"],
    open_pending: [...keyed, "stopLoss", "takeProfit", "expiresAt"],
    close: [...keyed, "quantity"],
    cancel: keyed,
    modify: [...keyed, "stopLoss", "takeProfit"],
    close_all: [...keyed, "asset"],
    query: ["replyTo", "scope", "limit", "cursor"],
    create_account: ["replyTo"],
  };
  const values: Record<string, fc.Arbitrary<string>> = {
    requestId: value(["r1", "req-2_x"]),
    userId: value(["u1", "user_9"]),
    idempotencyKey: value(["k1", "!~key"]),
    asset: value(["BTC", "SOL", "DOGE1"]),
    side: value(["long", "short"]),
    marginCents: value(["100", "10000", "999999999999999999"]),
    leverage: value(["1", "10", "100"]),
    slippageBps: value(["0", "100", "10000"]),
    expectedPrice: value(["9700050", "1"]),
    stopLoss: value(["9000000", ""]),
    takeProfit: value(["12000000", ""]),
    orderType: value(["market", "limit", "stop"]),
    // Market opens mostly say so (or say nothing); pending ones mostly name their type.
    "open.orderType": value(["market"]),
    "open_pending.orderType": value(["limit", "stop"]),
    triggerPrice: value(["9650000", "1"]),
    expiresAt: value(["1700000005000", "999999999999999", "1000000000000000"]),
    quantity: value(["0", "1", "103092"]),
    replyTo: value(["api-1", "x".repeat(41)]),
    orderId: value(["1", "42", "9999999999999999"]),
    fingerprint: value(["f1", "AbC_-9"]),
    scope: value(["balance", "open", "pending", "orders_history"]),
    limit: value(["1", "100", "500", "501"]),
    cursor: value(["1", "42"]),
    extra: value(["1"]),
  };
  const entry = fc.constantFrom(...Object.keys(fieldsOf)).chain((kind) => {
    const required = fieldsOf[kind]!;
    const optional = optionalOf[kind] ?? [];
    const keys = [...required, ...optional];
    const shape = Object.fromEntries(keys.map((k) => [k, values[`${kind}.${k}`] ?? values[k]!]));
    return fc.record(shape, { requiredKeys: required.filter(() => true) }).chain((record) =>
      fc.tuple(
        fc.nat(9),
        fc.constantFrom(
          "extra",
          "orderId",
          "asset",
          "stopLoss",
          "triggerPrice",
          "expiresAt",
          "slippageBps",
          "expectedPrice",
          "quantity",
        ),
      ).map(
        ([dice, extraKey]) => {
          const copy: Record<string, string> = { kind: kind.replace("_pending", ""), ...record };
          if (dice === 0) delete copy[required[dice % required.length]!];
          if (dice === 1) copy[extraKey] = "1";
          return copy;
        },
      )
    );
  });
  let accepted = 0;
  const acceptedKinds = new Map<string, number>();
  fc.assert(
    fc.property(entry, (candidate) => {
      const flat = Object.entries(candidate).flat() as string[];
      const zod = instructionEntrySchema.safeParse(candidate);
      const decoded = decodeFlat(flat);
      assert.equal(decoded.ok, zod.success, JSON.stringify(candidate));
      if (decoded.ok && zod.success) {
        accepted++;
        const label = decoded.entry.kind === "open"
          ? decoded.entry.orderType ?? "market"
          : decoded.entry.kind;
        acceptedKinds.set(label, (acceptedKinds.get(label) ?? 0) + 1);
        assert.deepEqual(decoded.entry, zod.data);
      }
    }),
    { numRuns: 20_000, seed: 7 },
  );
  assert.ok(accepted > 200, `only ${accepted} valid instructions generated`);
  const kinds = ["market", "limit", "stop", "close", "cancel", "modify", "close_all", "query"];
  for (const kind of kinds) {
    assert.ok(
      (acceptedKinds.get(kind) ?? 0) >= 20,
      `${kind}: ${JSON.stringify([...acceptedKinds])}`,
    );
  }
});

Deno.test("decodeFlatBytes (the engine's path) answers exactly as decodeFlat on the same text", () => {
  const encoder = new TextEncoder();
  const text = fc.oneof(
    fc.constantFrom("price", "kind", "query", "r1", "u1", "BTC 1 2 3", "SOL 15000 15001 17"),
    fc.array(
      fc.oneof(
        fc.constantFrom("BTC", "ETH", "XRP", "é", "0", "01", "€5", ""),
        fc.bigInt({ min: 0n, max: 10n ** 19n }).map(String),
      ),
      { maxLength: 5 },
    ).map((parts) => parts.join(" ")),
    fc.string({ maxLength: 90, unit: "grapheme" }),
  );
  const number = fc.oneof(
    fc.constantFrom("0", "00", "01", "007", "-1", "1e3", "", "+2", "1.5", "٣"),
    fc.bigInt({ min: 0n, max: 10n ** 19n }).map(String),
  );
  const quote = fc.tuple(
    fc.constantFrom("BTC", "ETH", "SOL", "X1", "btc", "É"),
    number,
    number,
    number,
  )
    .map((parts) => parts.join(" "));
  const flat = fc.oneof(
    fc.oneof(quote, text).map((value) => ["price", value]),
    fc.array(text, { maxLength: 8 }),
  );
  fc.assert(
    fc.property(flat, (fields) => {
      const bytes = fields.map((field) => encoder.encode(field));
      assert.deepEqual(decodeFlatBytes(bytes), decodeFlat(fields), JSON.stringify(fields));
    }),
    { numRuns: 20_000 },
  );
  // Interned asset strings are still equal strings.
  const eth = decodeFlatBytes([encoder.encode("price"), encoder.encode("ETH 1 2 3")]);
  assert.deepEqual(eth, decodeFlat(["price", "ETH 1 2 3"]));
});
