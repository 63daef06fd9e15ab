/**
 * The browser test's steps for "Charts, account and demo money" (browser_test.ts runs them): the
 * candle chart with history, its intervals and assets and live candles; a position's levels as
 * lines on it; a margin call's banner; balances that follow the `account` channel; fees in the
 * history; the demo money's reset; and the chart's history after the services restart.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { eventually } from "@trading/testing";

export interface DemoPorts {
  API_PORT: number;
  SIM_PORT: number;
}

/** Waits until the text of `selector` matches `pattern`. */
export function waitText(page: Page, selector: string, pattern: RegExp, timeout = 15_000) {
  return page.waitForFunction(
    `new RegExp(${JSON.stringify(pattern.source)}).test(` +
      `document.querySelector(${JSON.stringify(selector)})?.textContent ?? "")`,
    undefined,
    { timeout },
  );
}

/** Pins the simulator's BTC quote (whole dollars); `pinned: false` lets it walk on from there. */
export async function pinBtc(simPort: number, bid: bigint, pinned = true): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${simPort}/control`, {
    method: "POST",
    body: JSON.stringify({
      market: "BTC_USDC_PERP",
      bid: String(bid),
      ask: String(bid + 1n),
      pinned,
    }),
  });
  assert.equal(response.status, 200, await response.text());
}

/** Whole dollars of a decimal price string. */
const dollars = (text: string) => BigInt(text.split(".")[0]!);

const chartData = (page: Page, name: string) => page.getAttribute("#chart", `data-${name}`);

/** Waits until the chart shows `asset` at `interval` with at least `atLeast` candles. */
export async function chartShows(page: Page, asset: string, interval: string, atLeast: number) {
  await page.waitForFunction(
    `(() => { const d = document.querySelector("#chart")?.dataset ?? {};
      return d.asset === ${JSON.stringify(asset)} && d.interval === ${JSON.stringify(interval)} &&
        Number(d.candles) >= ${atLeast}; })()`,
    undefined,
    { timeout: 20_000 },
  ).catch(async (error) => {
    const seen = await page.evaluate(`JSON.stringify(document.querySelector("#chart")?.dataset)`);
    throw new Error(`the chart did not show ${asset} ${interval} (${seen}): ${error}`);
  });
}

/** Candles the history loads at least (the simulator backfills a day of minutes). */
export const HISTORY_AT_LEAST = 60;

/**
 * The chart at sign-in: BTC's 1-minute candles with history, moving with live candles; another
 * interval and another asset load theirs, and the old channel is left (`sent`: the frames the
 * page sent on its WebSocket).
 */
export async function chartFollowsChoices(page: Page, sent: string[], network: string[]) {
  await chartShows(page, "BTC", "1m", HISTORY_AT_LEAST);
  const first = Number(await chartData(page, "first"));
  assert.ok(first <= Date.now() - HISTORY_AT_LEAST * 60_000, `history from ${first} only`);
  // Live: the last candle changes (its quotes, or a new minute) without a reload.
  const last = await chartData(page, "last");
  await eventually("a live candle", async () => (await chartData(page, "last")) !== last, 15_000);

  await page.click("#interval-5m");
  await chartShows(page, "BTC", "5m", HISTORY_AT_LEAST / 5);
  assert.ok(network.some((line) => / GET .*\/candles\?asset=BTC&interval=5m&/.test(line)));
  await page.click("#tile-ETH");
  await chartShows(page, "ETH", "5m", HISTORY_AT_LEAST / 5);
  await page.click("#interval-1m");
  await page.click("#tile-BTC");
  await chartShows(page, "BTC", "1m", HISTORY_AT_LEAST);
  const frames = sent.map((text) => JSON.parse(text) as { type: string; channels?: string[] });
  const left = frames.filter((f) => f.type === "unsubscribe").flatMap((f) => f.channels ?? []);
  assert.deepEqual(left, ["candles.BTC.1m", "candles.BTC.5m", "candles.ETH.5m", "candles.ETH.1m"]);
  const joined = frames.filter((f) => f.type === "subscribe").flatMap((f) => f.channels ?? []);
  assert.ok(joined.includes("account"), joined.join(","));
}

/**
 * A 50× long: its levels as lines on the chart, balances from the `account` channel (no
 * `GET /balance` after its events), the margin level; a quote between its warning and
 * liquidation prices brings a margin-call banner, dismissed, back after the quote went above the
 * warning and crossed again, and cleared by the close. The reset is refused while it is open,
 * then done. Needs FEE_BPS > 0 for the history's fee.
 */
export async function marginCallAndDemoMoney(page: Page, ports: DemoPorts, network: string[]) {
  const row = "#positions tbody tr[data-order-id]";
  const balanceReads = () => network.filter((line) => / GET \S*\/balance$/.test(line)).length;
  await page.click("#kind-market");
  await page.fill("#stopLoss", "");
  await page.fill("#takeProfit", "");
  await page.fill("#margin", "100");
  await page.fill("#leverage", "50");
  const readsBefore = balanceReads();
  await page.click("#place");
  await page.waitForSelector(row, { timeout: 15_000 });
  const orderId = (await page.getAttribute(row, "data-order-id"))!;
  await waitText(page, "#locked", /^\$100\.00$/);
  assert.equal(balanceReads(), readsBefore, "the balances were read, not pushed on `account`");
  await waitText(page, "#margin-level", /^\d+\.\d{2} %$/);

  const lines = (await chartData(page, "lines"))?.split(",") ?? [];
  for (const label of ["entry", "liq.", "margin call"]) {
    assert.ok(lines.includes(`#${orderId} ${label}`), `no ${label} line in ${lines}`);
  }

  const token = await page.evaluate(() => localStorage.getItem("token"));
  const open = await (await fetch(`http://127.0.0.1:${ports.API_PORT}/api/v1/trades/open`, {
    headers: { authorization: `Bearer ${token}` },
  })).json() as { trades: Array<Record<string, string>> };
  const position = open.trades.find((t) => t.orderId === orderId)!;
  const warning = dollars(position.warningPrice!);
  const liquidation = dollars(position.liquidationPrice!);
  assert.ok(liquidation + 10n < warning, `${liquidation} .. ${warning}`);
  const between = (warning + liquidation) / 2n;
  const banner = `.margin-call[data-order-id="${orderId}"]`;

  await pinBtc(ports.SIM_PORT, between);
  await page.waitForSelector(banner, { timeout: 15_000 });
  const liquidationShown = Number(liquidation).toLocaleString("en-US");
  assert.ok((await page.textContent(banner))?.includes(liquidationShown));
  await page.screenshot({
    path: `${new URL("screenshots", import.meta.url).pathname}/margin-call.png`,
  });
  await page.click(`${banner} button.dismiss`);
  await page.waitForSelector(banner, { state: "detached", timeout: 5_000 });
  // Past the re-arm price (a maintenance margin beyond the warning price), then across the
  // warning price again: the banner is back.
  const rearmed = 2n * warning - liquidation + 50n;
  await pinBtc(ports.SIM_PORT, rearmed);
  await eventually("the quote past the re-arm price", async () => {
    const quotes = await (await fetch(`http://127.0.0.1:${ports.API_PORT}/api/v1/prices`)).json();
    const btc = quotes.prices.find((p: { asset: string }) => p.asset === "BTC");
    return dollars(btc.bid) === rearmed;
  });
  await pinBtc(ports.SIM_PORT, between);
  await page.waitForSelector(banner, { timeout: 15_000 });

  // No reset while a position is open: the 409 in words.
  await page.click("#reset-balance");
  await page.click("#reset-balance");
  await waitText(page, "#messages", /cannot be reset while positions or orders are open/);
  // The close clears the banner; its history row has its fee.
  await page.click(`${row} button.close`);
  await page.waitForSelector(banner, { state: "detached", timeout: 15_000 });
  await page.waitForSelector(`#history tbody tr[data-order-id="${orderId}"]`, { timeout: 15_000 });
  const fee = await page.textContent(`#history tbody tr[data-order-id="${orderId}"] .fee`);
  assert.match(fee ?? "", /^\$[1-9]\d*\.\d{2}$/);
  await waitText(page, "#margin-level", /^–$/);

  await page.click("#reset-balance");
  await page.click("#reset-balance");
  await waitText(page, "#balance", /^\$5,000\.00$/);
  await waitText(page, "#messages", /Demo money reset/);
  await pinBtc(ports.SIM_PORT, warning, false);
}

type ApiCandle = { t: number; o: string; h: string; l: string; c: string; n: number };

/** BTC's 1-minute candle of `t` as the API answers it now. */
export async function candleAt(apiPort: number, t: number): Promise<ApiCandle | undefined> {
  const answer = await (await fetch(
    `http://127.0.0.1:${apiPort}/api/v1/candles?asset=BTC&interval=1m&limit=1000`,
  )).json() as { candles: ApiCandle[] };
  return answer.candles.find((c) => c.t === t);
}

/**
 * After a restart of every service: the candle of `t` is the one written before it (its open the
 * same first bid, its count no lower; the backfill's exchange candle of that minute would differ),
 * and the chart, reloaded, has its history again.
 */
export async function chartAfterRestart(
  page: Page,
  apiPort: number,
  t: number,
  before: ApiCandle,
) {
  const after = await candleAt(apiPort, t);
  assert.ok(after !== undefined, `no candle at ${t} after the restart`);
  assert.equal(after.o, before.o, "the minute's open survived the restart");
  assert.ok(after.n >= before.n, `${after.n} quotes after the restart, ${before.n} before`);
  await page.reload();
  await page.waitForSelector("#app:not(.hidden)", { timeout: 20_000 });
  await chartShows(page, "BTC", "1m", HISTORY_AT_LEAST);
  assert.ok(Number(await chartData(page, "first")) <= t);
}
