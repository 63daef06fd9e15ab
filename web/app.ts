/**
 * The trading page: sign up / sign in, live quotes and chart from the gateway's WebSocket, an
 * order ticket (market, limit or stop) that previews the liquidation price with the engine's own
 * integer arithmetic, open positions with live PnL, their stop-loss/take-profit edits, partial
 * and full closes and close all, pending orders with cancel, history and balances. Each table
 * follows the WebSocket's order events (orders.ts applies them); a reload happens only at sign-in
 * and after the socket reconnects, since events may have been missed meanwhile.
 */
import { type Asset, ASSET_SYMBOLS, ASSETS, isAsset } from "@trading/shared/assets";
import { parseDecimal } from "@trading/shared/money";
import { pnlCents } from "@trading/shared/position_math";
import { Api, ApiError, inWords, parseJson } from "./api.ts";
import { type ChartPoint, PriceChart } from "./chart.ts";
import { price, priceUnits, usd } from "./format.ts";
import {
  type ClosedTrade,
  type OpenTrade,
  type OrderMessage,
  Orders,
  type PendingOrder,
} from "./orders.ts";
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
}

const CHART_POINTS = 600;
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const config = await fetch("/config.json").then((r) => r.json() as Promise<PageConfig>);
const api = new Api(
  config.apiBase ?? `${location.protocol}//${location.hostname}:${config.apiPort}/api/v1`,
);
const quotes = new Map<Asset, PageQuote>();
const series = new Map<Asset, ChartPoint[]>(ASSET_SYMBOLS.map((a) => [a, []]));
let selected: Asset = "BTC";
let side: "long" | "short" = "long";
let orderKind: OrderKind = "market";
const orders = new Orders();
let fetchedHistory: ClosedTrade[] = [];
let account: AccountFigures | undefined;
let socket: WebSocket | undefined;
let socketRetryMs = 500;
/** Set when the socket dropped: events may have been missed, so the next subscribe reloads. */
let resync = false;
/** The editor row under each position being edited, kept across renders (what was typed stays). */
const editors = new Map<string, HTMLTableRowElement>();

const chart = new PriceChart($<HTMLCanvasElement>("chart"), (units) => price(selected, units));

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
  ws.onopen = () => {
    socketRetryMs = 500;
    $("ws-dot").classList.add("live");
    $("ws-state").textContent = "live";
    // Back to back: the gateway answers the subscribe only once the auth is settled.
    if (api.token) ws.send(JSON.stringify({ type: "auth", token: api.token }));
    const channels = api.token ? ["prices", "orders"] : ["prices"];
    ws.send(JSON.stringify({ type: "subscribe", channels }));
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
    const points = series.get(asset)!;
    points.push(quote);
    if (points.length > CHART_POINTS) points.splice(0, points.length - CHART_POINTS);
    renderQuotes();
    return;
  }
  if (message.type === "order") {
    onOrder(message);
    return;
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
  renderQuotes();
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
  chart.draw(series.get(selected)!);
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
    : previewRows(values, side, quote, config.mmrBps);
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
  for (const row of body.querySelectorAll<HTMLTableRowElement>("tr[data-order-id]")) {
    const trade = orders.open.get(row.dataset.orderId!);
    const cell = row.querySelector(".pnl");
    if (trade === undefined || cell === null) continue;
    const pnl = unrealized(trade);
    if (pnl !== undefined) totalPnl += pnl;
    cell.textContent = pnl === undefined ? "–" : usd(pnl);
    cell.className = `pnl ${pnl === undefined ? "" : pnl < 0n ? "down" : "up"}`;
  }
  if (account !== undefined) {
    const pending = account.pending ?? 0n;
    $("balance").textContent = usd(account.balance);
    $("locked").textContent = usd(account.locked);
    $("pending-margin").textContent = usd(pending);
    $("equity").textContent = usd(account.balance + account.locked + pending + totalPnl);
  }
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
  refreshBalance();
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
      account = balance.usd;
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
  balancing = api.call<{ usd: AccountFigures }>("GET", "/balance")
    .then((balance) => {
      account = balance.usd;
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

/** Close all asks to be clicked twice within 4 s. */
let closeAllArmed: ReturnType<typeof setTimeout> | undefined;

async function closeAll(button: HTMLButtonElement): Promise<void> {
  if (closeAllArmed === undefined) {
    button.textContent = `Confirm: close ${orders.open.size}`;
    closeAllArmed = setTimeout(() => {
      closeAllArmed = undefined;
      button.textContent = "Close all";
    }, 4000);
    return;
  }
  clearTimeout(closeAllArmed);
  closeAllArmed = undefined;
  button.textContent = "Close all";
  await send("/trade/closeAll", "{}", button);
  button.disabled = orders.open.size === 0;
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
$("ticket").addEventListener("input", () => {
  const asset = $<HTMLSelectElement>("asset").value;
  if (isAsset(asset) && asset !== selected) select(asset);
  else renderPreview();
});
$("ticket").addEventListener("submit", (event) => {
  event.preventDefault();
  placeOrder();
});
addEventListener("resize", () => chart.draw(series.get(selected)!));

// ---- start ----

renderTiles();
select(selected);
const saved = localStorage.getItem("token");
if (saved) signedIn(saved, localStorage.getItem("email") ?? "");
else signedOut();
