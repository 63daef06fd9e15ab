/**
 * WebSocket client of Backpack's public bookTicker streams. Reconnects with exponential
 * backoff and full jitter, treats 30 s without a frame as a dead socket, and logs each change
 * of state once (no flood while the exchange is unreachable). Protocol pings are answered by
 * the runtime's WebSocket.
 */
import type { Logger } from "@trading/shared/log";
import { backoffMs } from "@trading/shared/wait";

/** Even a draw of zero waits this long: a refused connection never becomes a tight loop. */
const MIN_RECONNECT_DELAY_MS = 50;

export type FeedState = "connecting" | "open" | "waiting" | "stopped";

export interface FeedOptions {
  url: string;
  /** Backpack markets to subscribe, e.g. "BTC_USDC_PERP". */
  markets: readonly string[];
  onFrame: (text: string) => void;
  log: Logger;
  silenceMs?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  random?: () => number;
}

export class BackpackFeed {
  state: FeedState = "stopped";
  reconnects = 0;
  #socket: WebSocket | undefined;
  #attempt = 0;
  #lastFrameMs = 0;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #stopped = true;

  constructor(private readonly options: FeedOptions) {}

  start(): void {
    this.#stopped = false;
    this.#connect();
    const silenceMs = this.options.silenceMs ?? 30_000;
    this.#watchdog = setInterval(() => {
      if (this.state === "open" && Date.now() - this.#lastFrameMs > silenceMs) {
        this.options.log.warn("feed silent; reconnecting", { silenceMs });
        this.#socket?.close();
      }
    }, Math.min(1000, silenceMs));
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#watchdog);
    clearTimeout(this.#retry);
    this.#socket?.close();
    this.#setState("stopped");
  }

  /** True from the first failure until the feed is open again: retries are not logged. */
  #inOutage = false;

  #setState(state: FeedState, fields?: Record<string, unknown>): void {
    if (this.state === state) return;
    this.state = state;
    const quiet = this.#inOutage && (state === "connecting" || state === "waiting");
    if (state === "waiting") this.#inOutage = true;
    if (state === "open" || state === "stopped") this.#inOutage = false;
    if (quiet) return;
    this.options.log.info(`feed ${state}`, { url: this.options.url, ...fields });
  }

  #connect(): void {
    if (this.#stopped) return;
    this.#setState("connecting");
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.options.url);
    } catch (error) {
      this.#scheduleReconnect(error);
      return;
    }
    this.#socket = socket;
    socket.onopen = () => {
      this.#lastFrameMs = Date.now();
      const params = this.options.markets.map((market) => `bookTicker.${market}`);
      socket.send(JSON.stringify({ method: "SUBSCRIBE", params }));
      this.#setState("open", { markets: this.options.markets });
    };
    socket.onmessage = (event) => {
      this.#lastFrameMs = Date.now();
      this.#attempt = 0; // data flows: the next outage starts its backoff afresh
      if (typeof event.data === "string") this.options.onFrame(event.data);
    };
    socket.onerror = () => {}; // the close that follows does the work
    socket.onclose = () => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      this.#scheduleReconnect();
    };
  }

  #scheduleReconnect(error?: unknown): void {
    if (this.#stopped) return;
    const delayMs = backoffMs(this.#attempt, {
      baseMs: this.options.backoffBaseMs ?? 500,
      maxMs: this.options.backoffMaxMs ?? 30_000,
      random: this.options.random ?? Math.random,
    }) + MIN_RECONNECT_DELAY_MS;
    this.#attempt++;
    this.reconnects++;
    this.#setState("waiting", error ? { error: String(error) } : undefined);
    this.#retry = setTimeout(() => this.#connect(), delayMs);
  }
}
