/**
 * Load: one valid account at its position cap polls its balance and open positions from 20
 * loops while another user trades. The hostile answers stay small (a balance never carries
 * positions, a page holds at most `limit`), the per-user call rate turns the flood into 429s,
 * and the other user is answered every time. Latencies are printed for the record, not
 * asserted (performance is measured by `deno task bench`).
 */
import assert from "node:assert/strict";
import { http, newUser, waitForPrices, withEnv } from "./harness.ts";

const LOOPS = 20;
const REQUESTS_PER_LOOP = 100;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

Deno.test("noisy neighbour: a user at its caps polling from 20 loops cannot sink another", async () => {
  await withEnv({ USER_RATE: "100", USER_BURST: "200" }, async (env) => {
    await env.startAll();
    const base = env.api;
    await waitForPrices(base);
    const hostile = await newUser(base);
    const victim = await newUser(base);
    const long = { asset: "BTC", type: "long", margin: 100, leverage: 1, slippage: 10_000 };
    let opened = 0;
    while (opened < 200) {
      const result = await http(base, "POST", "/trade/create", {
        token: hostile.token,
        body: long,
      });
      if (result.status === 200) opened++;
      else if (result.status === 429) await new Promise((r) => setTimeout(r, 1000));
      else assert.fail(`open: ${result.status} ${JSON.stringify(result.body)}`);
    }
    const refused = await http<{ error: { code: string } }>(base, "POST", "/trade/create", {
      token: hostile.token,
      body: long,
    });
    assert.equal(refused.body.error.code, "too_many_positions");

    const victimBalance = async () => {
      const started = performance.now();
      const result = await http(base, "GET", "/balance", { token: victim.token });
      assert.equal(result.status, 200, JSON.stringify(result.body));
      return performance.now() - started;
    };
    const baseline: number[] = [];
    for (let i = 0; i < 50; i++) baseline.push(await victimBalance());

    const statuses = new Map<number, number>();
    let largestBalanceBytes = 0;
    let largestPageBytes = 0;
    const flood = Array.from({ length: LOOPS }, async (_, loop) => {
      for (let i = 0; i < REQUESTS_PER_LOOP; i++) {
        const path = (loop + i) % 2 === 0 ? "/balance" : "/trades/open?limit=500";
        const response = await fetch(base + path, {
          headers: { authorization: `Bearer ${hostile.token}` },
        });
        const bytes = (await response.arrayBuffer()).byteLength;
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        if (response.status !== 200) continue;
        if (path === "/balance") largestBalanceBytes = Math.max(largestBalanceBytes, bytes);
        else largestPageBytes = Math.max(largestPageBytes, bytes);
      }
    });
    const during: number[] = [];
    let flooding = true;
    const floodDone = Promise.all(flood).finally(() => flooding = false);
    while (flooding) during.push(await victimBalance());
    await floodDone;

    const total = LOOPS * REQUESTS_PER_LOOP;
    assert.equal([...statuses.values()].reduce((a, b) => a + b, 0), total);
    assert.deepEqual([...statuses.keys()].sort(), [200, 429], JSON.stringify([...statuses]));
    assert.ok(largestBalanceBytes < 200, `a balance answer of ${largestBalanceBytes} bytes`);
    // 200 positions fit one page; the caller asked for them all.
    assert.ok(largestPageBytes < 200 * 400, `a page of ${largestPageBytes} bytes`);
    assert.ok(during.length > 0);
    baseline.sort((a, b) => a - b);
    during.sort((a, b) => a - b);
    console.log(
      `noisy neighbour: ${total} hostile requests (${statuses.get(200)} answered, ` +
        `${statuses.get(429)} rate-limited); largest balance ${largestBalanceBytes} B, page ` +
        `${largestPageBytes} B; victim GET /balance p50/max ${
          percentile(baseline, 0.5).toFixed(1)
        }/` +
        `${baseline.at(-1)!.toFixed(1)} ms before, ${percentile(during, 0.5).toFixed(1)}/` +
        `${during.at(-1)!.toFixed(1)} ms during (${during.length} calls)`,
    );
  });
});
