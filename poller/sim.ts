/**
 * A local market that speaks Backpack's WebSocket protocol: the same SUBSCRIBE message, the same
 * {stream, data} bookTicker frames with the same field names and microsecond times. Prices
 * follow a seeded random walk on each market's tick. `POST /control` lets a test pin a market's
 * quote (and silence the walk) to fire triggers on purpose. `GET /api/v1/klines` answers as
 * Backpack's does, with a deterministic history of 1-minute candles (sim_klines.ts).
 */
import { parseDecimal } from "@trading/shared/money";
import { klinesResponse } from "./sim_klines.ts";

export interface SimMarket {
  market: string;
  mid: number;
  /** Tick size in integer units of 10^-decimals. */
  decimals: number;
}

export const DEFAULT_SIM_MARKETS: SimMarket[] = [
  { market: "BTC_USDC_PERP", mid: 97_000, decimals: 1 },
  { market: "ETH_USDC_PERP", mid: 3_500, decimals: 2 },
  { market: "SOL_USDC_PERP", mid: 150, decimals: 2 },
];

export interface SimOptions {
  port: number;
  hostname?: string;
  seed?: number;
  /** Frames per second per subscribed market. */
  ratePerSec?: number;
  /** Standard step of the walk in basis points of the price. */
  volatilityBps?: number;
  markets?: SimMarket[];
  onListen?: (port: number) => void;
}

interface Book {
  /** In ticks. */
  bidTicks: number;
  spreadTicks: number;
  decimals: number;
  pinned: boolean;
  updateId: number;
}

function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4_294_967_296;
  };
}

function format(ticks: number, decimals: number): string {
  const text = String(ticks).padStart(decimals + 1, "0");
  return decimals === 0 ? text : `${text.slice(0, -decimals)}.${text.slice(-decimals)}`;
}

export interface Simulator {
  port: number;
  close(): Promise<void>;
}

export function startSimulator(options: SimOptions): Simulator {
  const random = xorshift(options.seed ?? 42);
  const books = new Map<string, Book>();
  for (const m of options.markets ?? DEFAULT_SIM_MARKETS) {
    const scale = 10 ** m.decimals;
    books.set(m.market, {
      bidTicks: Math.round(m.mid * scale),
      spreadTicks: 1,
      decimals: m.decimals,
      pinned: false,
      updateId: 1,
    });
  }
  const clients = new Set<{ socket: WebSocket; streams: Set<string> }>();
  const volatility = (options.volatilityBps ?? 2) / 10_000;
  const klineMarkets = new Map((options.markets ?? DEFAULT_SIM_MARKETS).map((m) => [m.market, m]));

  const frame = (market: string, book: Book) => {
    const nowUs = Date.now() * 1000;
    return JSON.stringify({
      data: {
        A: (1 + random() * 5).toFixed(3),
        B: (1 + random() * 5).toFixed(3),
        E: nowUs,
        T: nowUs - 150,
        a: format(book.bidTicks + book.spreadTicks, book.decimals),
        b: format(book.bidTicks, book.decimals),
        e: "bookTicker",
        s: market,
        u: book.updateId++,
      },
      stream: `bookTicker.${market}`,
    });
  };

  const tick = () => {
    for (const [market, book] of books) {
      if (!book.pinned) {
        const step = (random() - 0.5) * 2 * volatility * book.bidTicks;
        book.bidTicks = Math.max(1, Math.round(book.bidTicks + step));
        book.spreadTicks = 1 + Math.floor(random() * 3);
      }
      const text = frame(market, book);
      for (const client of clients) {
        if (
          client.streams.has(`bookTicker.${market}`) && client.socket.readyState === WebSocket.OPEN
        ) {
          client.socket.send(text);
        }
      }
    }
  };
  const timer = setInterval(tick, Math.max(1, Math.floor(1000 / (options.ratePerSec ?? 5))));

  const server = Deno.serve({
    port: options.port,
    hostname: options.hostname ?? "127.0.0.1",
    onListen: ({ port }) => options.onListen?.(port),
  }, async (request) => {
    const url = new URL(request.url);
    if (request.method === "GET" && url.pathname === "/api/v1/klines") {
      return klinesResponse(url, klineMarkets, options.seed ?? 42, Date.now());
    }
    if (request.method === "POST" && url.pathname === "/control") {
      const body = await request.json().catch(() => null) as
        | { market?: string; bid?: string; ask?: string; pinned?: boolean }
        | null;
      const book = body?.market ? books.get(body.market) : undefined;
      if (!book || !body?.bid || !body?.ask) return new Response("bad control", { status: 400 });
      let bid: bigint, ask: bigint;
      try {
        bid = parseDecimal(body.bid, book.decimals, { allowZero: false });
        ask = parseDecimal(body.ask, book.decimals, { allowZero: false });
      } catch (error) {
        return new Response(String(error), { status: 400 });
      }
      if (ask < bid || ask > 10n ** 15n) return new Response("bad quote", { status: 400 });
      book.bidTicks = Number(bid); // tick counts, far below 2^53
      book.spreadTicks = Number(ask - bid);
      book.pinned = body.pinned ?? true;
      tick();
      return new Response("ok");
    }
    if (request.headers.get("upgrade") !== "websocket") {
      return new Response("Backpack simulator: connect with a WebSocket", { status: 426 });
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    const client = { socket, streams: new Set<string>() };
    socket.onopen = () => clients.add(client);
    socket.onclose = () => clients.delete(client);
    socket.onerror = () => clients.delete(client);
    socket.onmessage = (event) => {
      try {
        const message = JSON.parse(String(event.data));
        const params: unknown[] = Array.isArray(message.params) ? message.params : [];
        for (const stream of params) {
          if (typeof stream !== "string") continue;
          if (message.method === "SUBSCRIBE") client.streams.add(stream);
          if (message.method === "UNSUBSCRIBE") client.streams.delete(stream);
        }
      } catch {
        // Backpack ignores what it cannot parse; so do we.
      }
    };
    return response;
  });

  return {
    port: server.addr.port,
    async close() {
      clearInterval(timer);
      for (const client of clients) client.socket.close();
      await server.shutdown();
    },
  };
}
