/**
 * The trading page: sign up / sign in, live quotes and a candle chart (history from the API, live
 * candles and each position's levels as lines) from the gateway's WebSocket, an order ticket
 * (market, limit or stop) that previews the liquidation price with the engine's own integer
 * arithmetic, open positions with live PnL, their stop-loss/take-profit edits, partial
 * and full closes and close all, pending orders with cancel, history with fees, margin-call
 * banners, balances from the `account` channel and a reset of the demo money. Each table follows
 * the WebSocket's order events (orders.ts applies them); a reload happens only at sign-in and
 * after the socket reconnects, since events may have been missed meanwhile.
 */
import { type Asset, ASSET_SYMBOLS, ASSETS, isAsset } from "@trading/shared/assets";
import { parseDecimal } from "@trading/shared/money";
import { marginLevelPercent, pnlCents } from "@trading/shared/position_math";
import { Api, ApiError, inWords, parseJson } from "./api.ts";
import { type Interval, INTERVALS } from "./candles.ts";
import { CandleChart } from "./chart.ts";
import { ChartFeed } from "./chart_feed.ts";
import { price, priceUnits, usd } from "./format.ts";
import {
  type ClosedTrade,
  type OpenTrade,
  type OrderMessage,
  Orders,
  type PendingOrder,
} from "./orders.ts";
import { positionLines } from "./position_lines.ts";
import {
  emptyRow,
  HISTORY_COLUMNS,
  historyRow,
  PENDING_COLUMNS,
  pendingRow,
  POSITION_COLUMNS,
  positionEditor,
  positionRow,
} from "./tables.ts";
import { type OrderKind, previewRows, readTicket } from "./ticket.ts";

interface PageConfig {
  apiBase?: string;
  apiPort: number;
  mmrBps: number;
  /** FEE_BPS: the commission the ticket previews (absent from a gateway before fees). */
  feeBps?: number;
}

interface PageQuote {
  bid: bigint;
  ask: bigint;
  ts: number;
}

interface AccountFigures {
  balance: bigint;
  locked: bigint;
  /** Margin reserved by pending orders (absent from an API that predates them). */
  pending?: bigint;
  /** `GET /balance`'s margin level: shown until the open positions can be priced live. */
  marginLevel?: string | null;
}

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const config = await fetch("/config.json").then((r) => r.json() as Promise<PageConfig>);
const api = new Api(
  config.apiBase ?? `${location.protocol}//${location.hostname}:${config.apiPort}/api/v1`,
);
const quotes = new Map<Asset, PageQuote>();
let selected: Asset = "BTC";
let interval: Interval = "1m";
let side: "long" | "short" = "long";
let orderKind: OrderKind = "market";
const orders = new Orders();
let fetchedHistory: ClosedTrade[] = [];
let account: AccountFigures | undefined;
let socket: WebSocket | undefined;
let socketRetryMs = 500;
/** Set once a socket has opened: a later one may have missed live candles. */
let socketOpened = false;
/** Set when the gateway confirmed the `account` channel: balances then come from it. */
let accountLive = false;
/** Set when the socket dropped: events may have been missed, so the next subscribe reloads. */
let resync = false;
/** The editor row under each position being edited, kept across renders (what was typed stays). */
const editors = new Map<string, HTMLTableRowElement>();

const chart = new CandleChart($("chart"), (units) => price(selected, units));
const chartFeed = new ChartFeed(api, chart, (message) => {
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}, (text) => say(text, "error"));

// ---- messages ----

function say(text: string, kind: "error" | "ok" | "loss" | "info" = "info"): void {
  const box = document.createElement("div");
  box.className = `msg ${kind}`;
  box.textContent = text;
  $("messages").append(box);
  setTimeout(() => box.remove(), kind === "error" ? 8000 : 5000);
}

// ---- auth ----

function signedIn(token: string, email: string): void {
  api.token = token;
  localStorage.setItem("token", token);
  localStorage.setItem("email", email);
  $("who").textContent = email;
  $("signout").classList.remove("hidden");
  $("auth").classList.add("hidden");
  $("app").classList.remove("hidden");
  connect();
  refreshAll();
}

function signedOut(): void {
  api.token = undefined;
  localStorage.removeItem("token");
  $("who").textContent = "";
  $("signout").classList.add("hidden");
  $("auth").classList.remove("hidden");
  $("app").classList.add("hidden");
  orders.clear();
  editors.clear();
  fetchedHistory = [];
  account = undefined;
  connect();
}

async function authenticate(kind: "signin" | "signup"): Promise<void> {
  const email = $<HTMLInputElement>("email").value.trim();
  const password = $<HTMLInputElement>("password").value;
  const body = JSON.stringify({ email, password });
  try {
    if (kind === "signup") {
      await api.call("POST", "/signup", body);
      say("Account created with $5,000.00 of demo balance.", "ok");
    }
    const { token } = await api.call<{ token: string }>("POST", "/signin", body);
    signedIn(token, email);
  } catch (error) {
    say(inWords(error), "error");
  }
}

$("auth-form").addEventListener("submit", (event) => {
  event.preventDefault();
  authenticate("signin");
});
$("signup").addEventListener("click", () => authenticate("signup"));
$("signout").addEventListener("click", signedOut);

// ---- live feed ----

function connect(): void {
  socket?.close();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  // The token travels in a message, not in the URL, which proxies and servers write to logs.
  const ws = new WebSocket(`${scheme}://${location.host}/ws`);
  socket = ws;
  accountLive = false;
  ws.onopen = () => {
    socketRetryMs = 500;
    $("ws-dot").classList.add("live");
    $("ws-state").textContent = "live";
    // Back to back: the gateway answers the subscribe only once the auth is settled.
    if (api.token) ws.send(JSON.stringify({ type: "auth", token: api.token }));
    const channels = api.token ? ["prices", "orders"] : ["prices"];
    ws.send(JSON.stringify({ type: "subscribe", channels }));
    // Apart, so that a gateway that does not know a channel refuses only that one.
    if (api.token) ws.send(JSON.stringify({ type: "subscribe", channels: ["account"] }));
    chartFeed.resubscribe(socketOpened);
    socketOpened = true;
  };
  ws.onmessage = (event) => onMessage(String(event.data));
  ws.onclose = (event) => {
    if (socket !== ws) return;
    $("ws-dot").classList.remove("live");
    // 4001: the token expired, and the API refuses it as well; signing out reconnects for prices.
    if (event.code === 4001 && api.token) {
      say("Your session expired; sign in again.", "error");
      signedOut();
      return;
    }
    $("ws-state").textContent = "reconnecting";
    resync = true;
    setTimeout(() => socket === ws && connect(), socketRetryMs);
    socketRetryMs = Math.min(socketRetryMs * 2, 10_000);
  };
}

function onMessage(text: string): void {
  const message = parseJson(text) as Record<string, unknown>;
  if (message.type === "price" && isAsset(message.asset)) {
    const asset = message.asset;
    const quote = {
      bid: priceUnits(asset, String(message.bid)),
      ask: priceUnits(asset, String(message.ask)),
      ts: Number(message.ts),
    };
    quotes.set(asset, quote);
    renderQuotes();
    return;
  }
  if (message.type === "candle") {
    chartFeed.onCandle(message);
    return;
  }
  if (message.type === "order") {
    onOrder(message);
    return;
  }
  if (message.type === "account") {
    onAccount(message);
    return;
  }
  if (message.type === "subscribed" && Array.isArray(message.channels)) {
    if (message.channels.includes("account")) accountLive = true;
  }
  if (message.type === "subscribed" && resync && api.token) {
    // Back after a drop: what happened meanwhile came as no event.
    resync = false;
    refreshAll();
    return;
  }
  if (message.type === "error" && message.code === "unauthorized" && api.token) {
    // The stored token no longer passes (expired, or the server's secret changed).
    say("Your session expired; sign in again.", "error");
    signedOut();
    return;
  }
  // A gateway older than the page lacks a channel (`account`): balances are then read instead.
  if (message.type === "error" && message.code === "unknown_channel") return;
  if (message.type === "error") say(`Live feed: ${message.message}`, "error");
}

// ---- rendering ----

function renderTiles(): void {
  const tiles = $("tiles");
  tiles.replaceChildren(...ASSET_SYMBOLS.map((asset) => {
    const tile = document.createElement("button");
    tile.type = "button";
    tile.className = "tile";
    tile.id = `tile-${asset}`;
    tile.innerHTML = `<div class="sym">${asset} <small>${ASSETS[asset].name}</small></div>` +
      `<div class="q"><span class="bid">–</span> / <span class="ask">–</span></div>`;
    tile.addEventListener("click", () => select(asset));
    return tile;
  }));
  $<HTMLSelectElement>("asset").replaceChildren(...ASSET_SYMBOLS.map((asset) => {
    const option = document.createElement("option");
    option.value = option.textContent = asset;
    return option;
  }));
}

function select(asset: Asset): void {
  selected = asset;
  $<HTMLSelectElement>("asset").value = asset;
  chartFeed.show(selected, interval);
  renderLines();
  renderQuotes();
}

function renderIntervals(): void {
  $("intervals").prepend(...INTERVALS.map((each) => {
    const button = document.createElement("button");
    button.type = "button";
    button.id = `interval-${each}`;
    button.textContent = each;
    button.addEventListener("click", () => chooseInterval(each));
    return button;
  }));
}

function chooseInterval(next: Interval): void {
  interval = next;
  for (const each of INTERVALS) $(`interval-${each}`).classList.toggle("on", each === next);
  chartFeed.show(selected, interval);
}

/** The chart's lines: the levels of each open position of the shown asset. */
function renderLines(): void {
  chart.lines(positionLines(orders.openTrades(), selected));
}

function renderQuotes(): void {
  for (const asset of ASSET_SYMBOLS) {
    const tile = $(`tile-${asset}`);
    tile.classList.toggle("selected", asset === selected);
    const quote = quotes.get(asset);
    if (quote === undefined) continue;
    tile.querySelector(".bid")!.textContent = price(asset, quote.bid);
    tile.querySelector(".ask")!.textContent = price(asset, quote.ask);
  }
  renderPreview();
  renderPnl();
}

function ticketValues() {
  return readTicket(orderKind, (asset) => quotes.get(asset)?.bid);
}

function renderPreview(): void {
  const values = ticketValues();
  const place = $<HTMLButtonElement>("place");
  place.textContent = orderKind === "market" ? `Open ${side}` : `Place ${side} ${orderKind}`;
  const preview = $("preview");
  const quote = typeof values === "string" ? undefined : quotes.get(values.asset);
  const rows = typeof values === "string"
    ? values
    : quote === undefined
    ? "Waiting for a price…"
    : previewRows(values, side, quote, config.mmrBps, config.feeBps ?? 0);
  place.disabled = typeof rows === "string";
  if (typeof rows === "string") {
    preview.textContent = rows;
    return;
  }
  preview.replaceChildren(...rows.map(([name, value]) => {
    const row = document.createElement("div");
    row.innerHTML = `<span></span><b></b>`;
    row.children[0]!.textContent = name;
    row.children[1]!.textContent = value;
    if (name === "Liquidation price") row.id = "preview-liquidation";
    if (name.startsWith("Fee")) row.id = "preview-fee";
    return row;
  }));
}

function unrealized(trade: OpenTrade): bigint | undefined {
  const quote = quotes.get(trade.asset);
  if (quote === undefined) return undefined;
  const position = {
    asset: trade.asset,
    side: trade.type,
    entryPrice: priceUnits(trade.asset, trade.openPrice),
    quantity: parseDecimal(trade.quantity, 8),
  };
  return pnlCents(position, trade.type === "long" ? quote.bid : quote.ask);
}

/** Rebuilds the positions table (when the positions change; a price only changes the PnL). */
function renderPositions(): void {
  const body = $<HTMLTableElement>("positions").tBodies[0]!;
  const trades = orders.openTrades();
  for (const orderId of editors.keys()) if (!orders.open.has(orderId)) editors.delete(orderId);
  const rows: HTMLTableRowElement[] = [];
  for (const trade of trades) {
    const { orderId } = trade;
    rows.push(positionRow(trade, editors.has(orderId), {
      edit: () => {
        if (editors.has(orderId)) editors.delete(orderId);
        else editors.set(orderId, editorFor(trade));
        renderPositions();
      },
      close: (button) => closeTrade(orderId, button),
    }));
    const editor = editors.get(orderId);
    if (editor !== undefined) rows.push(editor);
  }
  if (rows.length === 0) rows.push(emptyRow("No open positions", POSITION_COLUMNS));
  body.replaceChildren(...rows);
  $<HTMLButtonElement>("close-all").disabled = trades.length === 0;
  renderLines();
  renderPnl();
}

function editorFor(trade: OpenTrade): HTMLTableRowElement {
  const { orderId } = trade;
  return positionEditor(trade, () => orders.open.get(orderId), {
    save: (levels, button) => modifyTrade(orderId, levels, button),
    closePart: (quantity, button) => closeTrade(orderId, button, quantity),
    problem: (text) => say(text, "error"),
  });
}

/** Live PnL of each position and the equity, from the latest quotes. */
function renderPnl(): void {
  const body = $<HTMLTableElement>("positions").tBodies[0]!;
  let totalPnl = 0n;
  let priced = true;
  for (const row of body.querySelectorAll<HTMLTableRowElement>("tr[data-order-id]")) {
    const trade = orders.open.get(row.dataset.orderId!);
    const cell = row.querySelector(".pnl");
    if (trade === undefined || cell === null) continue;
    const pnl = unrealized(trade);
    if (pnl !== undefined) totalPnl += pnl;
    else priced = false;
    cell.textContent = pnl === undefined ? "–" : usd(pnl);
    cell.className = `pnl ${pnl === undefined ? "" : pnl < 0n ? "down" : "up"}`;
  }
  if (account !== undefined) {
    const pending = account.pending ?? 0n;
    $("balance").textContent = usd(account.balance);
    $("locked").textContent = usd(account.locked);
    $("pending-margin").textContent = usd(pending);
    const equity = account.balance + account.locked + pending + totalPnl;
    $("equity").textContent = usd(equity);
    // Live once every position has a quote; until then as GET /balance last said.
    const level = priced ? marginLevelPercent(equity, account.locked) : account.marginLevel;
    $("margin-level").textContent = level === undefined || level === null ? "–" : `${level} %`;
  }
}

/** One banner per margin call, until dismissed or until its position closes. */
function renderMarginCalls(): void {
  const box = $("margin-calls");
  box.replaceChildren(...[...orders.marginCalls.values()].map((call) => {
    const banner = document.createElement("div");
    banner.className = "margin-call";
    banner.dataset.orderId = call.orderId;
    const text = document.createElement("span");
    text.textContent = orders.marginCallText(call);
    const dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.className = "dismiss";
    dismiss.textContent = "Dismiss";
    dismiss.addEventListener("click", () => {
      orders.dismissMarginCall(call.orderId);
      renderMarginCalls();
    });
    banner.append(text, dismiss);
    return banner;
  }));
  box.classList.toggle("hidden", orders.marginCalls.size === 0);
}

function renderPending(): void {
  const body = $<HTMLTableElement>("pending").tBodies[0]!;
  const rows = orders.pendingOrders().map((order) =>
    pendingRow(order, (button) => cancelOrder(order.orderId, button))
  );
  if (rows.length === 0) rows.push(emptyRow("No pending orders", PENDING_COLUMNS));
  body.replaceChildren(...rows);
}

function renderHistory(): void {
  const body = $<HTMLTableElement>("history").tBodies[0]!;
  const rows = orders.history(fetchedHistory, 20).map(historyRow);
  if (rows.length === 0) rows.push(emptyRow("No closed trades yet", HISTORY_COLUMNS));
  body.replaceChildren(...rows);
}

function renderOrders(): void {
  renderPositions();
  renderPending();
  renderHistory();
  renderMarginCalls();
}

// ---- order events ----

/** Order messages that arrived while a reload was in flight: applied again on what it fetched. */
let arrivedDuringRefresh: OrderMessage[] | undefined;

function onOrder(message: OrderMessage): void {
  arrivedDuringRefresh?.push(message);
  const notice = orders.apply(message);
  if (notice === undefined) return; // an event this page does not know
  say(...notice);
  renderOrders();
  // Without the account channel, the balances after an event are read (they are not in it).
  if (!accountLive) refreshBalance();
}

/** How many `account` messages arrived: a GET /balance older than the newest is not taken. */
let accountPushes = 0;

/** An `account` message: the balances after a change of the user's money. */
function onAccount(message: Record<string, unknown>): void {
  const { balance, locked, pending } = message;
  if (typeof balance !== "bigint" || typeof locked !== "bigint") return;
  accountPushes++;
  account = {
    balance,
    locked,
    pending: typeof pending === "bigint" ? pending : 0n,
    // GET /balance's level was for the figures before: worked out again from the quotes.
    marginLevel: undefined,
  };
  renderPnl();
}

/** GET /balance's figures, unless an `account` message newer than the read has come. */
function takeBalance(figures: AccountFigures, pushesWhenAsked: number): void {
  if (accountPushes === pushesWhenAsked) account = figures;
}

// ---- actions ----

let refreshing: Promise<void> | undefined;
let refreshAgain = false;

/**
 * Reloads positions, pending orders, balances and history (at sign-in and after the socket
 * reconnects); calls during a reload coalesce into one more.
 */
function refreshAll(): void {
  if (refreshing !== undefined) {
    refreshAgain = true;
    return;
  }
  arrivedDuringRefresh = [];
  const pushesWhenAsked = accountPushes;
  refreshing = (async () => {
    try {
      const [open, pending, balance, history] = await Promise.all([
        api.call<{ trades: OpenTrade[] }>("GET", "/trades/open?limit=500"),
        api.call<{ orders: PendingOrder[] }>("GET", "/orders/pending").catch((error) => {
          // An API without pending orders: the table stays as the events make it.
          if (error instanceof ApiError && error.status === 404) return undefined;
          throw error;
        }),
        api.call<{ usd: AccountFigures }>("GET", "/balance"),
        api.call<{ trades: ClosedTrade[] }>("GET", "/trades?limit=20"),
      ]);
      orders.load(open.trades, pending?.orders);
      for (const message of arrivedDuringRefresh ?? []) orders.apply(message);
      takeBalance(balance.usd, pushesWhenAsked);
      fetchedHistory = history.trades;
      renderOrders();
    } catch (error) {
      if ((error as { status?: number }).status === 401) signedOut();
      say(inWords(error), "error");
    }
  })().finally(() => {
    refreshing = undefined;
    arrivedDuringRefresh = undefined;
    if (refreshAgain) {
      refreshAgain = false;
      refreshAll();
    }
  });
}

let balancing: Promise<void> | undefined;
let balanceAgain = false;

/** Reloads the balances after an order event (only they are not in the event). */
function refreshBalance(): void {
  if (balancing !== undefined) {
    balanceAgain = true;
    return;
  }
  const pushesWhenAsked = accountPushes;
  balancing = api.call<{ usd: AccountFigures }>("GET", "/balance")
    .then((balance) => {
      takeBalance(balance.usd, pushesWhenAsked);
      renderPnl();
    }, (error) => say(inWords(error), "error"))
    .finally(() => {
      balancing = undefined;
      if (balanceAgain) {
        balanceAgain = false;
        refreshBalance();
      }
    });
}

/**
 * Sends a trading call, with its button disabled meanwhile; the tables change when its event
 * arrives on the socket, not from the answer. True when it was accepted.
 */
async function send(path: string, json: string, button: HTMLButtonElement): Promise<boolean> {
  button.disabled = true;
  try {
    await api.call("POST", path, json);
    return true;
  } catch (error) {
    say(inWords(error), "error");
    return false;
  } finally {
    button.disabled = false;
  }
}

async function placeOrder(): Promise<void> {
  const values = ticketValues();
  if (typeof values === "string") return say(values, "error");
  const quote = quotes.get(values.asset);
  const { margin, ...rest } = values;
  const seen = quote === undefined || "triggerPrice" in values ? {} : {
    price: price(values.asset, side === "long" ? quote.ask : quote.bid).replaceAll(",", ""),
  };
  // margin is integer cents: written from the bigint's digits, never through a float.
  const json = JSON.stringify({ ...rest, ...seen, type: side }).slice(0, -1) +
    `,"margin":${margin.toString()}}`;
  await send("/trade/create", json, $<HTMLButtonElement>("place"));
}

/** Closes a position, or `quantity` of it. */
async function closeTrade(orderId: string, button: HTMLButtonElement, quantity?: string) {
  await send("/trade/close", JSON.stringify({ orderId, quantity }), button);
}

async function modifyTrade(
  orderId: string,
  levels: { stopLoss: string | null; takeProfit: string | null },
  button: HTMLButtonElement,
): Promise<void> {
  if (await send("/trade/modify", JSON.stringify({ orderId, ...levels }), button)) {
    editors.delete(orderId);
    renderPositions();
  }
}

async function cancelOrder(orderId: string, button: HTMLButtonElement): Promise<void> {
  await send("/order/cancel", JSON.stringify({ orderId }), button);
}

/** Buttons that undo a lot ask to be clicked twice within 4 s. */
const armed = new Map<HTMLButtonElement, ReturnType<typeof setTimeout>>();

/** True on the second click; the first one asks (`confirmText`) for 4 s. */
function confirmed(button: HTMLButtonElement, confirmText: string, idleText: string): boolean {
  const timer = armed.get(button);
  if (timer === undefined) {
    button.textContent = confirmText;
    armed.set(
      button,
      setTimeout(() => {
        armed.delete(button);
        button.textContent = idleText;
      }, 4000),
    );
    return false;
  }
  clearTimeout(timer);
  armed.delete(button);
  button.textContent = idleText;
  return true;
}

async function closeAll(button: HTMLButtonElement): Promise<void> {
  if (!confirmed(button, `Confirm: close ${orders.open.size}`, "Close all")) return;
  await send("/trade/closeAll", "{}", button);
  button.disabled = orders.open.size === 0;
}

/** Demo money back to the starting credit; the API refuses while anything is open or pending. */
async function resetBalance(button: HTMLButtonElement): Promise<void> {
  if (!confirmed(button, "Confirm: reset to $5,000.00", "Reset demo money")) return;
  if (await send("/balance/reset", "{}", button)) {
    say("Demo money reset to $5,000.00.", "ok");
    refreshBalance();
  }
}

function setSide(next: "long" | "short"): void {
  side = next;
  $("side-long").classList.toggle("on", side === "long");
  $("side-short").classList.toggle("on", side === "short");
  renderPreview();
}

function setKind(next: OrderKind): void {
  orderKind = next;
  for (const each of ["market", "limit", "stop"] as const) {
    $(`kind-${each}`).classList.toggle("on", each === next);
  }
  $("trigger-fields").classList.toggle("hidden", next === "market");
  $("slippage-field").classList.toggle("hidden", next !== "market");
  renderPreview();
}

$("side-long").addEventListener("click", () => setSide("long"));
$("side-short").addEventListener("click", () => setSide("short"));
for (const each of ["market", "limit", "stop"] as const) {
  $(`kind-${each}`).addEventListener("click", () => setKind(each));
}
$("close-all").addEventListener("click", (event) => {
  closeAll(event.currentTarget as HTMLButtonElement);
});
$("reset-balance").addEventListener("click", (event) => {
  resetBalance(event.currentTarget as HTMLButtonElement);
});
$("ticket").addEventListener("input", () => {
  const asset = $<HTMLSelectElement>("asset").value;
  if (isAsset(asset) && asset !== selected) select(asset);
  else renderPreview();
});
$("ticket").addEventListener("submit", (event) => {
  event.preventDefault();
  placeOrder();
});
// ---- start ----

renderTiles();
renderIntervals();
chooseInterval(interval);
select(selected);
const saved = localStorage.getItem("token");
if (saved) signedIn(saved, localStorage.getItem("email") ?? "");
else signedOut();
