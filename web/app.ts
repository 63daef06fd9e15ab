/**
 * The trading page: sign up / sign in, live quotes and chart from the gateway's WebSocket, an
 * order ticket that previews the liquidation price with the engine's own integer arithmetic,
 * open positions with live PnL, closes, history and balances. Order events (including
 * stop-loss, take-profit and liquidation closes) refresh the page without a reload.
 */
import { type Asset, ASSET_SYMBOLS, ASSETS, isAsset } from "@trading/shared/assets";
import type { ClosedTrade as TradeRecord } from "@trading/shared/db";
import { parseDecimal } from "@trading/shared/money";
import { liquidationPrice, pnlCents, quantityFor } from "@trading/shared/position_math";
import { Api, inWords, parseJson } from "./api.ts";
import { type ChartPoint, PriceChart } from "./chart.ts";
import { dollarsToCents, price, priceUnits, time, usd } from "./format.ts";

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

interface OpenTrade {
  orderId: string;
  asset: Asset;
  type: "long" | "short";
  margin: bigint;
  leverage: number;
  openPrice: string;
  quantity: string;
  liquidationPrice: string;
  stopLoss?: string;
  takeProfit?: string;
  openedAt: number;
}

/**
 * A closed trade as the page holds it: the history's record (`GET /trades`, or the fields of an
 * order message that closed), with cents as bigint (`parseJson`).
 */
type ClosedTrade = Omit<TradeRecord, "asset" | "margin" | "pnl"> & {
  asset: Asset;
  margin: bigint;
  pnl: bigint;
};

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
let openTrades: OpenTrade[] = [];
let account: { balance: bigint; locked: bigint } | undefined;
let socket: WebSocket | undefined;
let socketRetryMs = 500;
/**
 * Closes seen on the WebSocket, until the history (written to Postgres by the engine's history
 * writer, a moment later) includes them: the table shows a close the instant it happens.
 */
const liveCloses = new Map<string, ClosedTrade>();

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
  openTrades = [];
  account = undefined;
  liveCloses.clear();
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
    const asset = String(message.asset);
    const what = `${asset} ${message.side} #${message.orderId}`;
    if (message.event === "opened") say(`Opened ${what}.`, "ok");
    else {
      const { side: type, ...fields } = message;
      const closed = { ...fields, type } as unknown as ClosedTrade;
      liveCloses.set(closed.orderId, closed);
      say(
        `Closed ${what} (${closed.reason.replace("_", "-")}), PnL ${usd(closed.pnl)}.`,
        closed.pnl < 0n ? "loss" : "ok",
      );
    }
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
  renderPositions();
}

/** What the ticket says, checked as the API will check it; a string is the first problem. */
function ticketValues() {
  const asset = $<HTMLSelectElement>("asset").value as Asset;
  const margin = dollarsToCents($<HTMLInputElement>("margin").value);
  if (typeof margin === "string") return margin;
  if (margin < 100n) return "Margin must be at least $1.00.";
  const leverage = Number($<HTMLInputElement>("leverage").value);
  if (!Number.isInteger(leverage) || leverage < 1 || leverage > 100) {
    return "Leverage must be a whole number from 1 to 100.";
  }
  const slippage = Number($<HTMLInputElement>("slippage").value);
  if (!Number.isInteger(slippage) || slippage < 0 || slippage > 10_000) {
    return "Slippage must be a whole number of basis points from 0 to 10000.";
  }
  const triggers: { stopLoss?: string; takeProfit?: string } = {};
  for (const field of ["stopLoss", "takeProfit"] as const) {
    const text = $<HTMLInputElement>(field).value.trim();
    if (text === "") continue;
    try {
      parseDecimal(text, ASSETS[asset].priceDecimals, { allowZero: false });
    } catch {
      return `${field === "stopLoss" ? "Stop-loss" : "Take-profit"} must be a price like ${
        price(asset, quotes.get(asset)?.bid ?? 100n).replaceAll(",", "")
      }.`;
    }
    triggers[field] = text;
  }
  return { asset, margin, leverage, slippage, ...triggers };
}

function renderPreview(): void {
  const values = ticketValues();
  const place = $<HTMLButtonElement>("place");
  place.textContent = `Open ${side}`;
  const preview = $("preview");
  if (typeof values === "string") {
    preview.textContent = values;
    place.disabled = true;
    return;
  }
  const quote = quotes.get(values.asset);
  if (quote === undefined) {
    preview.textContent = "Waiting for a price…";
    place.disabled = true;
    return;
  }
  const entry = side === "long" ? quote.ask : quote.bid;
  const quantity = quantityFor(values.asset, values.margin, values.leverage, entry);
  if (quantity === 0n) {
    preview.textContent = "The position would be too small.";
    place.disabled = true;
    return;
  }
  const liquidation = liquidationPrice(
    values.asset,
    side,
    entry,
    quantity,
    values.margin,
    config.mmrBps,
  );
  const rows: Array<[string, string]> = [
    ["Entry (now)", price(values.asset, entry)],
    ["Position size", usd(values.margin * BigInt(values.leverage))],
    ["Liquidation price", price(values.asset, liquidation)],
  ];
  preview.replaceChildren(...rows.map(([name, value]) => {
    const row = document.createElement("div");
    row.innerHTML = `<span></span><b></b>`;
    row.children[0]!.textContent = name;
    row.children[1]!.textContent = value;
    if (name === "Liquidation price") row.id = "preview-liquidation";
    return row;
  }));
  place.disabled = false;
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

/** A decimal price from the API in the page's format, or a dash when there is none. */
function shown(asset: Asset, text: string | undefined): string {
  return text === undefined ? "–" : price(asset, priceUnits(asset, text));
}

function cell(row: HTMLTableRowElement, text: string, className = ""): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function renderPositions(): void {
  const body = $<HTMLTableElement>("positions").tBodies[0]!;
  let totalPnl = 0n;
  const rows = openTrades.map((trade) => {
    const row = document.createElement("tr");
    row.dataset.orderId = trade.orderId;
    cell(row, trade.asset);
    cell(row, trade.type, trade.type === "long" ? "up" : "down");
    cell(row, usd(trade.margin));
    cell(row, `${trade.leverage}×`);
    cell(row, shown(trade.asset, trade.openPrice));
    cell(row, shown(trade.asset, trade.liquidationPrice));
    cell(row, shown(trade.asset, trade.stopLoss));
    cell(row, shown(trade.asset, trade.takeProfit));
    const pnl = unrealized(trade);
    if (pnl !== undefined) totalPnl += pnl;
    cell(row, pnl === undefined ? "–" : usd(pnl), pnl === undefined ? "" : pnl < 0n ? "down" : "up")
      .classList.add("pnl");
    const close = document.createElement("button");
    close.textContent = "Close";
    close.addEventListener("click", () => closeTrade(trade.orderId, close));
    row.insertCell().append(close);
    return row;
  });
  if (rows.length === 0) {
    const row = document.createElement("tr");
    const td = cell(row, "No open positions", "empty");
    td.colSpan = 10;
    rows.push(row);
  }
  body.replaceChildren(...rows);
  if (account !== undefined) {
    $("balance").textContent = usd(account.balance);
    $("locked").textContent = usd(account.locked);
    $("equity").textContent = usd(account.balance + account.locked + totalPnl);
  }
}

function renderHistory(fetched: ClosedTrade[]): void {
  const body = $<HTMLTableElement>("history").tBodies[0]!;
  for (const trade of fetched) liveCloses.delete(trade.orderId);
  const trades = [...liveCloses.values(), ...fetched]
    .sort((a, b) => b.closedAt - a.closedAt || Number(b.orderId) - Number(a.orderId))
    .slice(0, 20);
  const rows = trades.map((trade) => {
    const row = document.createElement("tr");
    row.dataset.orderId = trade.orderId;
    cell(row, trade.asset);
    cell(row, trade.type);
    cell(row, usd(trade.margin));
    cell(row, shown(trade.asset, trade.openPrice));
    cell(row, shown(trade.asset, trade.closePrice));
    cell(row, usd(trade.pnl), trade.pnl < 0n ? "down" : "up");
    cell(row, trade.reason.replace("_", "-"));
    cell(row, time(trade.closedAt));
    return row;
  });
  if (rows.length === 0) {
    const row = document.createElement("tr");
    cell(row, "No closed trades yet", "empty").colSpan = 8;
    rows.push(row);
  }
  body.replaceChildren(...rows);
}

// ---- actions ----

let refreshing: Promise<void> | undefined;
let refreshAgain = false;

/** Reloads positions, balances and history; calls during a reload coalesce into one more. */
function refreshAll(): void {
  if (refreshing !== undefined) {
    refreshAgain = true;
    return;
  }
  refreshing = (async () => {
    try {
      const [open, balance, history] = await Promise.all([
        api.call<{ trades: OpenTrade[] }>("GET", "/trades/open?limit=500"),
        api.call<{ usd: { balance: bigint; locked: bigint } }>("GET", "/balance"),
        api.call<{ trades: ClosedTrade[] }>("GET", "/trades?limit=20"),
      ]);
      openTrades = open.trades;
      account = balance.usd;
      renderPositions();
      renderHistory(history.trades);
    } catch (error) {
      if ((error as { status?: number }).status === 401) signedOut();
      say(inWords(error), "error");
    }
  })().finally(() => {
    refreshing = undefined;
    if (refreshAgain) {
      refreshAgain = false;
      refreshAll();
    }
  });
}

async function placeOrder(): Promise<void> {
  const values = ticketValues();
  if (typeof values === "string") return say(values, "error");
  const quote = quotes.get(values.asset);
  const { margin, ...rest } = values;
  const seen = quote === undefined ? {} : {
    price: price(values.asset, side === "long" ? quote.ask : quote.bid).replaceAll(",", ""),
  };
  // margin is integer cents: written from the bigint's digits, never through a float.
  const json = JSON.stringify({ ...rest, ...seen, type: side }).slice(0, -1) +
    `,"margin":${margin.toString()}}`;
  const place = $<HTMLButtonElement>("place");
  place.disabled = true;
  try {
    await api.call("POST", "/trade/create", json);
    refreshAll();
  } catch (error) {
    say(inWords(error), "error");
  } finally {
    place.disabled = false;
  }
}

async function closeTrade(orderId: string, button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  try {
    await api.call("POST", "/trade/close", JSON.stringify({ orderId }));
    refreshAll();
  } catch (error) {
    say(inWords(error), "error");
    button.disabled = false;
  }
}

function setSide(next: "long" | "short"): void {
  side = next;
  $("side-long").classList.toggle("on", side === "long");
  $("side-short").classList.toggle("on", side === "short");
  renderPreview();
}

$("side-long").addEventListener("click", () => setSide("long"));
$("side-short").addEventListener("click", () => setSide("short"));
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
