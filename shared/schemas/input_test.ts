import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeFlat,
  decodeFlatBytes,
  decodeInput,
  encodeInput,
  fieldsFromArray,
  instructionEntrySchema,
  parsePriceValue,
  type PriceEntry,
} from "./input.ts";

const open = {
  kind: "open",
  requestId: "req-1",
  userId: "user_1",
  asset: "BTC",
  side: "long",
  marginCents: "10000",
  leverage: "10",
  slippageBps: "100",
  expectedPrice: "9700050",
};

Deno.test("decodeInput types every kind, amounts as bigint", () => {
  const decoded = decodeInput({ ...open, stopLoss: "9000000", idempotencyKey: "k-1" });
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.entry, {
    ...open,
    marginCents: 10000n,
    leverage: 10,
    slippageBps: 100,
    expectedPrice: 9700050n,
    stopLoss: 9000000n,
    idempotencyKey: "k-1",
  });
  assert.ok(decodeInput({ price: "ETH 1 2 3" }).ok);
  assert.ok(decodeInput({ kind: "create_account", requestId: "r", userId: "u" }).ok);
  assert.ok(decodeInput({ kind: "close", requestId: "r", userId: "u", orderId: "12" }).ok);
});

Deno.test("decodeInput refuses malformed entries with a reason and the request to answer", () => {
  const bad: Array<Record<string, unknown>> = [
    { ...open, marginCents: "1e4" },
    { ...open, marginCents: "-5" },
    { ...open, marginCents: "0" },
    { ...open, marginCents: "10000.5" },
    { ...open, marginCents: "9".repeat(25) },
    { ...open, leverage: "0" },
    { ...open, leverage: "101" },
    { ...open, slippageBps: "10001" },
    { ...open, side: "LONG" },
    { ...open, expectedPrice: "NaN" },
    { ...open, balance: "1" },
    { ...open, idempotencyKey: "" },
    { ...open, idempotencyKey: "x".repeat(65) },
    { ...open, idempotencyKey: "has space" },
    { ...open, asset: "btc" },
    { ...open, marginCents: 10000 },
  ];
  for (const fields of bad) {
    const decoded = decodeInput(fields);
    assert.ok(!decoded.ok, JSON.stringify(fields));
    assert.equal(decoded.requestId, "req-1");
    assert.equal(decoded.userId, "user_1");
    assert.ok(decoded.reason.length > 0 && decoded.reason.length <= 300);
  }
});

Deno.test("decodeInput never throws, whatever it is given", () => {
  const inputs: unknown[] = [null, undefined, 42, "open", [], [1, 2], {}, { kind: "price" }, {
    kind: "close",
    requestId: "r".repeat(65),
    userId: "u",
    orderId: "0",
  }, { kind: "price", asset: "BTC", bid: "2", ask: "1", ts: "0" }];
  for (const input of inputs) {
    const decoded = decodeInput(input);
    assert.equal(decoded.ok, false, JSON.stringify(input));
  }
});

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

Deno.test("encodeInput writes the wire form decodeInput reads back", () => {
  const price = decodeInput({ price: "SOL 1501200 1501234 99" });
  assert.ok(price.ok);
  assert.deepEqual(encodeInput(price.entry), { price: "SOL 1501200 1501234 99" });
  const decoded = decodeInput({ ...open, takeProfit: "11000000" });
  assert.ok(decoded.ok);
  assert.deepEqual(encodeInput(decoded.entry), { ...open, takeProfit: "11000000" });
});

Deno.test("price entries: one field, parsed exactly or refused", () => {
  assert.deepEqual(decodeInput({ price: "BTC 9700050 9700150 1732579200123456" }), {
    ok: true,
    entry: { kind: "price", asset: "BTC", bid: 9700050n, ask: 9700150n, ts: 1732579200123456n },
  });
  const refused = [
    "BTC 9700050 9700150",
    "BTC 9700050 9700150 1 2",
    "BTC  9700050 9700150 1",
    "btc 1 2 3",
    "BTC 0 2 3",
    "BTC 3 2 3",
    "BTC -1 2 3",
    "BTC 1e3 2000 3",
    "BTC 01 2 3",
    "BTC 1 2 " + "9".repeat(19),
    "",
  ];
  for (const value of refused) assert.equal(decodeInput({ price: value }).ok, false, value);
  assert.equal(decodeInput({ price: "BTC 1 2 3", extra: "x" }).ok, false);
  assert.equal(decodeInput({ price: 5 }).ok, false);
});

/** The price grammar as first written: split and regexes. The scanner must agree with it. */
function referencePrice(value: string): PriceEntry | string {
  if (value.length > 80) return "price: too long";
  const parts = value.split(" ");
  if (parts.length !== 4) return 'price: must be "<ASSET> <bid> <ask> <ts>"';
  const [asset, bid, ask, ts] = parts as [string, string, string, string];
  if (!/^[A-Z0-9]{1,10}$/.test(asset)) return "price: asset must be 1–10 capitals or digits";
  const unsigned = /^(0|[1-9][0-9]{0,17})$/;
  if (!unsigned.test(bid) || !unsigned.test(ask) || !unsigned.test(ts)) {
    return "price: bid, ask and ts must be non-negative integers";
  }
  if (BigInt(bid) === 0n || BigInt(ask) === 0n) {
    return "price: bid and ask must be greater than zero";
  }
  if (BigInt(bid) > BigInt(ask)) return "price: bid must not exceed ask";
  return { kind: "price", asset, bid: BigInt(bid), ask: BigInt(ask), ts: BigInt(ts) };
}

Deno.test("the price scanner agrees with the split-and-regex grammar on any text", () => {
  const token = fc.oneof(
    fc.constantFrom("BTC", "SOL", "btc", "B-C", "", "0", "00", "01", "-1", "1e3", " ", "+5"),
    fc.bigInt({ min: 0n, max: 10n ** 20n }).map(String),
    fc.integer({ min: 0, max: 2 ** 53 + 10 }).map(String),
    fc.stringMatching(/^[0-9A-Z]{0,12}$/),
  );
  const value = fc.oneof(
    fc.array(token, { minLength: 0, maxLength: 6 }).map((parts) => parts.join(" ")),
    fc.string({ maxLength: 90 }),
  );
  fc.assert(
    fc.property(value, (text) => {
      assert.deepEqual(parsePriceValue(text), referencePrice(text), JSON.stringify(text));
    }),
    { numRuns: 20_000 },
  );
  for (const digits of [15, 16, 17, 18]) {
    const n = "9".repeat(digits);
    assert.deepEqual(parsePriceValue(`ETH 1 ${n} ${n}`), referencePrice(`ETH 1 ${n} ${n}`));
  }
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
      { weight: 4, arbitrary: fc.constantFrom(...good) },
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
    close: ["requestId", "userId", "orderId"],
    query: ["requestId", "userId"],
    create_account: ["requestId", "userId"],
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
    stopLoss: value(["9000000"]),
    takeProfit: value(["12000000"]),
    orderId: value(["1", "42", "9999999999999999"]),
    fingerprint: value(["f1", "AbC_-9"]),
    scope: value(["balance", "open"]),
    limit: value(["1", "100", "500", "501"]),
    cursor: value(["1", "42"]),
    extra: value(["1"]),
  };
  const entry = fc.constantFrom(...Object.keys(fieldsOf)).chain((kind) => {
    const required = fieldsOf[kind]!;
    const optional = kind === "open"
      ? ["idempotencyKey", "fingerprint", "stopLoss", "takeProfit"]
      : kind === "close"
      ? ["idempotencyKey", "fingerprint"]
      : kind === "query"
      ? ["scope", "limit", "cursor"]
      : [];
    const keys = [...required, ...optional];
    const shape = Object.fromEntries(keys.map((k) => [k, values[k]!]));
    return fc.record(shape, { requiredKeys: required.filter(() => true) }).chain((record) =>
      fc.tuple(fc.nat(9), fc.constantFrom("extra", "orderId", "asset", "stopLoss")).map(
        ([dice, extraKey]) => {
          const copy: Record<string, string> = { kind, ...record };
          if (dice === 0) delete copy[required[dice % required.length]!];
          if (dice === 1) copy[extraKey] = "1";
          return copy;
        },
      )
    );
  });
  let accepted = 0;
  fc.assert(
    fc.property(entry, (candidate) => {
      const flat = Object.entries(candidate).flat() as string[];
      const zod = instructionEntrySchema.safeParse(candidate);
      const decoded = decodeFlat(flat);
      assert.equal(decoded.ok, zod.success, JSON.stringify(candidate));
      if (decoded.ok && zod.success) {
        accepted++;
        assert.deepEqual(decoded.entry, zod.data);
      }
    }),
    { numRuns: 20_000, seed: 7 },
  );
  assert.ok(accepted > 200, `only ${accepted} valid instructions generated`);
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
