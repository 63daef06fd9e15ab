import assert from "node:assert/strict";
import fc from "fast-check";
import { InvariantError } from "./codes.ts";
import { compareStreamIds, parseStreamId, readStreamId } from "./stream_id.ts";

/** The grammar as a regex: the scanner must agree with it on any text. */
const STREAM_ID_RE = /^(\d{1,15})-(\d{1,15})$/;

Deno.test("readStreamId reads exactly what /^(\\d{1,15})-(\\d{1,15})$/ matches", () => {
  const part = fc.oneof(
    fc.stringMatching(/^[0-9]{0,17}$/),
    fc.constantFrom("", "-", "+1", " 1", "1 ", "1e3", "٣", "0x1"),
  );
  const id = fc.oneof(
    fc.tuple(part, fc.constantFrom("-", "--", "_", ""), part).map(([a, dash, b]) => a + dash + b),
    fc.string({ maxLength: 40 }),
  );
  const out = { ms: -1, seq: -1 };
  fc.assert(
    fc.property(id, (text) => {
      const match = STREAM_ID_RE.exec(text);
      assert.equal(readStreamId(text, out), match !== null, JSON.stringify(text));
      if (match !== null) {
        assert.deepEqual(out, { ms: Number(match[1]), seq: Number(match[2]) });
        assert.deepEqual(parseStreamId(text), out);
      } else {
        assert.throws(() => parseStreamId(text), InvariantError);
      }
    }),
    { numRuns: 20_000 },
  );
  assert.ok(readStreamId("999999999999999-999999999999999", out));
  assert.deepEqual(out, { ms: 999_999_999_999_999, seq: 999_999_999_999_999 });
});

Deno.test("compareStreamIds orders by ms, then seq, and refuses what is not an ID", () => {
  const id = fc.tuple(fc.nat(2000), fc.nat(5)).map(([ms, seq]) => `${ms}-${seq}`);
  fc.assert(
    fc.property(id, id, (a, b) => {
      const [x, y] = [parseStreamId(a), parseStreamId(b)];
      const expected = Math.sign(x.ms - y.ms) || Math.sign(x.seq - y.seq);
      assert.equal(compareStreamIds(a, b), expected, `${a} ${b}`);
      assert.equal(compareStreamIds(b, a), -expected || 0, `${b} ${a}`);
    }),
    { numRuns: 2_000 },
  );
  assert.equal(compareStreamIds("10-2", "9-30"), 1);
  assert.equal(compareStreamIds("007-1", "7-01"), 0);
  assert.throws(() => compareStreamIds("1-0", "x"), InvariantError);
  assert.throws(() => compareStreamIds("1", "1-0"), InvariantError);
});
