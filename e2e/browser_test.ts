/**
 * The web page in a real browser: Debian's Chromium (/usr/bin/chromium, never a downloaded
 * one) driven by playwright-core against `deno task demo`, started as a user would start it
 * (no DATABASE_URL, no REDIS_URL: its own Redis and embedded Postgres in a fresh DATA_DIR).
 * Sign up, open a trade within 30 s of the start, watch it live, close it, see it in history,
 * have a stop-loss close it without a reload, and read an API refusal in words. Then orders beyond
 * market: a limit order placed, shown pending and cancelled; a market order's stop-loss edited,
 * half of it closed, and all positions closed at once — each table following the WebSocket's
 * events, with no reload of the lists. Then charts, account and demo money
 * (charts_and_account.ts): the candle chart with history, its intervals and live candles, a
 * position's lines, a margin call's banner, balances from the `account` channel, fees, the reset;
 * and, after every service restarts on the same DATA_DIR, the chart's history again.
 * Screenshots go to e2e/screenshots/ (git-ignored). `deno task test:browser`.
 */
import assert from "node:assert/strict";
import { chromium, type Page } from "playwright-core";
import { eventually, freePort } from "@trading/testing";
import { removeDataDir } from "../scripts/services.ts";
import {
  candleAt,
  chartAfterRestart,
  chartFollowsChoices,
  marginCallAndDemoMoney,
  waitText,
} from "./charts_and_account.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
const SHOTS = `${ROOT}e2e/screenshots`;
const FIRST_TRADE_WITHIN_MS = 30_000;
/** Commission of the demo under test, so that the history's fees are not all zero. */
const FEE_BPS = "10";

/** `deno task demo` as a user starts it, on these ports and DATA_DIR; its lines go to `output`. */
function startDemo(
  dataDir: string,
  ports: Record<string, number>,
  output: string[],
): Deno.ChildProcess {
  const demo = new Deno.Command(Deno.execPath(), {
    args: ["task", "demo"],
    cwd: ROOT,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: Deno.env.get("HOME") ?? "/root",
      ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
      DATA_DIR: dataDir,
      FEE_BPS,
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  for (const stream of [demo.stdout, demo.stderr]) {
    (async () => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        output.push(...chunk.split("\n").filter((l) => l !== ""));
      }
    })();
  }
  return demo;
}

/** Stops the demo as Ctrl-C would; killed if it still runs after 15 s. */
async function stopDemo(demo: Deno.ChildProcess): Promise<void> {
  try {
    demo.kill("SIGTERM");
  } catch {
    // it already exited; its output is in the error
  }
  const stopped = await Promise.race([
    demo.status.then(() => true),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), 15_000)),
  ]);
  if (!stopped) {
    demo.kill("SIGKILL"); // still running after 15 s
    await demo.status;
  }
}

Deno.test({
  name: "web page in Chromium against deno task demo: sign up, trade, live PnL, close, history",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    try {
      Deno.statSync(CHROMIUM);
    } catch {
      throw new Error(`Chromium is needed at ${CHROMIUM}: apt-get install chromium`);
    }
    const dataDir = await Deno.makeTempDir({ prefix: "trading-e2e-" });
    const ports = {
      API_PORT: freePort(),
      GATEWAY_PORT: freePort(),
      SIM_PORT: freePort(),
      ENGINE_METRICS_PORT: freePort(),
      POLLER_METRICS_PORT: freePort(),
      DEMO_REDIS_PORT: freePort(),
      DEMO_PG_PORT: freePort(),
    };
    const output: string[] = [];
    const spawnedAt = Date.now();
    let demo = startDemo(dataDir, ports, output);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    const pageErrors: string[] = [];
    const network: string[] = [];
    /** The frames the page sent on its WebSockets. */
    const sent: string[] = [];
    let page: Page | undefined;
    try {
      page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      page.on("pageerror", (error) => pageErrors.push(error.message));
      page.on("websocket", (ws) => ws.on("framesent", ({ payload }) => sent.push(String(payload))));
      // What the page asked of the network and when, for a failure's message.
      const at = () => `${((Date.now() - spawnedAt) / 1000).toFixed(2)} s`;
      page.on("request", (r) => network.push(`${at()} ${r.method()} ${r.url()}`));
      page.on("response", (r) => network.push(`${at()} ${r.status()} ${r.url()}`));
      page.on(
        "requestfailed",
        (r) => network.push(`${at()} failed ${r.url()}: ${r.failure()?.errorText}`),
      );
      const site = `http://localhost:${ports.GATEWAY_PORT}/`;
      await eventually("the page", async () => (await page!.goto(site))?.ok(), 60_000);
      // The gateway can serve the page before the API listens: a click then would only get
      // "Cannot reach the API" (in words, for 8 s). Sign up once the API answers.
      await eventually("the API", async () => {
        const response = await fetch(`http://127.0.0.1:${ports.API_PORT}/api/v1/supportedAssets`);
        await response.body?.cancel();
        return response.ok;
      }, 60_000);

      // Sign up (which signs in) through the form.
      await page.fill("#email", `e2e-${crypto.randomUUID().slice(0, 8)}@example.com`);
      await page.fill("#password", "password123");
      await page.click("#signup");
      await page.waitForSelector("#app:not(.hidden)", { timeout: 20_000 });
      const bid = () => page!.textContent("#tile-BTC .bid");
      await page.waitForFunction(
        `document.querySelector("#tile-BTC .bid")?.textContent !== "–"`,
        undefined,
        { timeout: 20_000 },
      );
      // Balances come from GET /balance, prices from the socket: either can arrive first.
      await page.waitForFunction(
        `document.querySelector("#balance")?.textContent !== "–"`,
        undefined,
        { timeout: 20_000 },
      );
      assert.match(await page.textContent("#balance") ?? "", /^\$5,000\.00$/);

      // The liquidation price is shown before sending.
      await page.fill("#margin", "250");
      await page.fill("#leverage", "20");
      const previewLiquidation = await page.textContent("#preview-liquidation b");
      assert.match(previewLiquidation ?? "", /^\d{1,3}(,\d{3})*\.\d{2}$/);
      // The demo runs with FEE_BPS=10: the ticket says what the open will cost besides margin.
      assert.match(await page.textContent("#preview-fee b") ?? "", /^\$\d+\.\d{2}$/);

      await page.click("#place");
      await page.waitForSelector("#positions tbody tr[data-order-id]", { timeout: 15_000 });
      const firstTradeMs = Date.now() - spawnedAt;
      assert.ok(
        firstTradeMs < FIRST_TRADE_WITHIN_MS,
        `the first trade took ${firstTradeMs} ms from \`deno task demo\``,
      );
      // The row comes with the `opened` event; the balances are read after it.
      await page.waitForFunction(
        `document.querySelector("#locked")?.textContent === "$250.00"`,
        undefined,
        { timeout: 10_000 },
      );

      // Live: quotes move and the position's PnL is priced from them.
      const before = await bid();
      await eventually("a new BTC quote", async () => (await bid()) !== before, 10_000);
      const pnl = await page.textContent("#positions tbody tr[data-order-id] .pnl");
      assert.match(pnl ?? "", /^-?\$\d/);
      // The candle chart while quotes walk: history, live candles, intervals and assets.
      await chartFollowsChoices(page, sent, network);
      await Deno.mkdir(SHOTS, { recursive: true });
      await page.screenshot({ path: `${SHOTS}/trading.png` });

      // Close with the button: the row leaves, history gains it.
      await page.click("#positions tbody tr[data-order-id] button.close");
      await page.waitForSelector("#history tbody tr[data-order-id]", { timeout: 15_000 });
      assert.match(await page.textContent("#history tbody tr") ?? "", /manual/);
      await page.waitForSelector("#positions tbody td.empty");

      // A stop-loss close arrives over the WebSocket: no reload.
      const quote = await (await fetch(`http://127.0.0.1:${ports.API_PORT}/api/v1/prices`)).json();
      const btcBid: string = quote.prices.find((p: { asset: string }) => p.asset === "BTC").bid;
      const stop = BigInt(btcBid.split(".")[0]!) * 98n / 100n; // whole dollars, 2 % below
      await page.fill("#margin", "100");
      await page.fill("#leverage", "5");
      await page.fill("#stopLoss", String(stop));
      await page.click("#place");
      await page.waitForSelector("#positions tbody tr[data-order-id]", { timeout: 15_000 });
      const pinned = await fetch(`http://127.0.0.1:${ports.SIM_PORT}/control`, {
        method: "POST",
        body: JSON.stringify({
          market: "BTC_USDC_PERP",
          bid: String(stop - 10n),
          ask: String(stop - 9n),
        }),
      });
      assert.equal(pinned.status, 200, await pinned.text());
      await page.waitForFunction(
        `document.querySelector("#history tbody tr")?.textContent?.includes("stop-loss")`,
        undefined,
        { timeout: 15_000 },
      );
      await page.waitForSelector("#positions tbody td.empty");

      // A refusal from the API, in words.
      await page.fill("#stopLoss", "");
      await page.fill("#margin", "9000");
      await page.fill("#leverage", "1");
      await page.click("#place");
      await page.waitForSelector(".msg.error", { timeout: 10_000 });
      assert.match(await page.textContent(".msg.error") ?? "", /Not enough available balance/);
      await page.screenshot({ path: `${SHOTS}/after-stop-loss.png` });

      await ordersBeyondMarket(page, ports.API_PORT, network);
      await page.screenshot({ path: `${SHOTS}/orders.png` });
      await marginCallAndDemoMoney(page, ports, network);
      await page.screenshot({ path: `${SHOTS}/account.png`, fullPage: true });

      // Every service restarts on the same DATA_DIR: the chart has its history again.
      const lastCandle = Number((await page.getAttribute("#chart", "data-last"))!.split(":")[0]);
      const beforeRestart = await candleAt(ports.API_PORT, lastCandle);
      assert.ok(beforeRestart !== undefined, `the API has the chart's last candle ${lastCandle}`);
      await stopDemo(demo);
      await waitText(page, "#ws-state", /^reconnecting$/); // the page saw them go
      demo = startDemo(dataDir, ports, output);
      await eventually("the API after the restart", async () => {
        const response = await fetch(`http://127.0.0.1:${ports.API_PORT}/api/v1/supportedAssets`);
        await response.body?.cancel();
        return response.ok;
      }, 60_000);
      // The gateway too (it bundles the page as it starts): the reload must find it.
      await eventually("the gateway after the restart", async () => {
        const response = await fetch(`${site}app.js`);
        await response.body?.cancel();
        return response.ok;
      }, 60_000);
      await chartAfterRestart(page, ports.API_PORT, lastCandle, beforeRestart);
      await page.screenshot({ path: `${SHOTS}/chart-after-restart.png` });
      assert.deepEqual(pageErrors, []);
      console.log(
        `first trade ${firstTradeMs} ms after \`deno task demo\`; screenshots in ${SHOTS}`,
      );
    } catch (error) {
      if (page) await page.screenshot({ path: `${SHOTS}/failure.png` }).catch(() => {});
      if (error instanceof Error) {
        error.message += `\n--- page errors ---\n${pageErrors.join("\n")}\n--- network ---\n${
          network.slice(-30).join("\n")
        }\n--- demo output ---\n${output.slice(-40).join("\n")}`;
      }
      throw error;
    } finally {
      await browser.close();
      await stopDemo(demo);
      await removeDataDir(dataDir); // and, as root, its Postgres cluster outside it
    }
  },
});

/** The BTC bid now, in whole dollars. */
async function btcBidDollars(apiPort: number): Promise<bigint> {
  const quote = await (await fetch(`http://127.0.0.1:${apiPort}/api/v1/prices`)).json();
  const bid: string = quote.prices.find((p: { asset: string }) => p.asset === "BTC").bid;
  return BigInt(bid.split(".")[0]!);
}

/** A quantity's decimal string in units of 10^-8, and back. */
const units = (text: string) => {
  const [whole, fraction = ""] = text.split(".");
  return BigInt(whole!) * 10n ** 8n + BigInt(fraction.padEnd(8, "0"));
};
const decimal = (n: bigint) => {
  const fraction = (n % 10n ** 8n).toString().padStart(8, "0").replace(/0+$/, "");
  return `${n / 10n ** 8n}${fraction === "" ? "" : `.${fraction}`}`;
};

/**
 * A limit order placed, seen pending, cancelled; a market order's stop-loss edited, half of it
 * closed, then every position closed at once. The lists change from the WebSocket's events: the
 * page reloads none of them meanwhile (`network` records what it asked).
 */
async function ordersBeyondMarket(page: Page, apiPort: number, network: string[]) {
  const reloads = () =>
    network.filter((line) => / GET .*\/(trades\/open|orders\/pending|trades\?)/.test(line)).length;
  const reloadsBefore = reloads();
  const row = "#positions tbody tr[data-order-id]";
  const waitFor = (selector: string, pattern: RegExp) => waitText(page, selector, pattern);

  // A long limit 10 % under the market waits in the pending table; its margin is reserved.
  const limitAt = await btcBidDollars(apiPort) * 90n / 100n;
  await page.click("#kind-limit");
  assert.ok(await page.isHidden("#slippage-field"));
  await page.fill("#margin", "100");
  await page.fill("#leverage", "5");
  await page.fill("#triggerPrice", String(limitAt));
  assert.match(await page.textContent("#place") ?? "", /Place long limit/);
  await page.click("#place");
  await page.waitForSelector("#pending tbody tr[data-order-id]", { timeout: 15_000 });
  const pending = await page.textContent("#pending tbody tr[data-order-id]") ?? "";
  assert.match(pending, /limit/);
  assert.ok(pending.includes(limitAt.toLocaleString("en-US")), pending);
  // With fees, the fill's commission (10 bps of $500) may be reserved with the margin.
  await waitFor("#pending-margin", /^\$100\.(00|50)$/);
  await page.screenshot({ path: `${SHOTS}/pending.png`, fullPage: true });
  // Cancelled from its row: the row leaves on the `cancelled` event, the margin comes back.
  await page.click("#pending tbody tr[data-order-id] button.cancel");
  await page.waitForSelector("#pending tbody td.empty", { timeout: 15_000 });
  await waitFor("#pending-margin", /^\$0\.00$/);

  // A market order; its stop-loss set from the position's editor.
  await page.click("#kind-market");
  await page.fill("#margin", "200");
  await page.fill("#leverage", "10");
  await page.click("#place");
  await page.waitForSelector(row, { timeout: 15_000 });
  const stop = await btcBidDollars(apiPort) * 90n / 100n;
  await page.click(`${row} button.edit`);
  await page.fill("tr.editor .edit-stop-loss", String(stop));
  await page.click("tr.editor .save-levels");
  await waitFor(`${row} .stop-loss`, new RegExp(`^${stop.toLocaleString("en-US")}\\.00$`));
  await page.waitForSelector("tr.editor", { state: "detached", timeout: 5_000 });

  // Half of it closed: 50 % of its quantity, floored to 10^-8, fills the field.
  const quantity = await page.textContent(`${row} .quantity`) ?? "";
  const half = units(quantity) / 2n;
  await page.click(`${row} button.edit`);
  await page.click("tr.editor .percent-50");
  assert.equal(await page.inputValue("tr.editor .part-quantity"), decimal(half));
  await page.screenshot({ path: `${SHOTS}/position-editor.png`, fullPage: true });
  await page.click("tr.editor .close-part");
  await waitFor(`${row} .quantity`, new RegExp(`^${decimal(units(quantity) - half)}$`));
  await waitFor("#history tbody tr", new RegExp(decimal(half).replace(".", "\\.")));
  await waitFor("#history tbody tr", /manual/);

  // A second position, then close all (asked twice): both rows leave, both closes listed.
  await page.click("#place");
  await page.waitForFunction(
    `document.querySelectorAll("#positions tbody tr[data-order-id]").length === 2`,
    undefined,
    { timeout: 15_000 },
  );
  await page.click("#close-all");
  assert.match(await page.textContent("#close-all") ?? "", /Confirm: close 2/);
  await page.click("#close-all");
  await page.waitForSelector("#positions tbody td.empty", { timeout: 15_000 });
  await waitFor("#locked", /^\$0\.00$/);
  const closes = await page.$$eval(
    "#history tbody tr[data-close-id]",
    (rows) => rows.slice(0, 3).map((r) => r.textContent ?? ""),
  );
  assert.equal(closes.length, 3);
  assert.ok(closes.every((text) => text.includes("manual")), closes.join("\n"));
  assert.equal(reloads(), reloadsBefore, "the lists were reloaded instead of following events");
}
