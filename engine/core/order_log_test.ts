import assert from "node:assert/strict";
import { OrderLog } from "./order_log.ts";

Deno.test("OrderLog answers owners within retention and forgets older ones", () => {
  const log = new OrderLog();
  for (let seq = 1; seq <= 10_000; seq++) log.record(seq, `u${seq % 3}`, seq * 10);
  assert.equal(log.ownerOf(4), "u1");
  assert.equal(log.ownerOf(10_001), undefined);
  log.prune(50_000); // opened at or before 50 000 ms: seqs 1..5000
  assert.equal(log.ownerOf(5000), undefined);
  assert.equal(log.ownerOf(5001), "u0");
  assert.equal(log.nextSeq, 10_001);
  const [firstSeq, rows] = log.toRows();
  assert.equal(firstSeq, 5001);
  const copy = OrderLog.fromRows(firstSeq, rows);
  assert.deepEqual(copy.toRows(), log.toRows());
  assert.equal(copy.ownerOf(9999), "u0");
});

Deno.test("OrderLog refuses an out-of-sequence record", () => {
  const log = new OrderLog();
  log.record(1, "u", 0);
  assert.throws(() => log.record(3, "u", 0), /out of sequence/);
});
