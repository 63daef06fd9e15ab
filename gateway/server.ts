/**
 * The gateway's WebSocket server: reads engine:output, {e0}:prices and {e0}:candles (its own
 * blocking connection, from the streams' ends at boot) and pushes prices, candles (at most 4 a
 * second per channel) and each user's own order events and account figures (the latest of each
 * batch read, per user).
 *
 * HTTP is node:http; the WebSocket protocol after the upgrade is ours (ws_frames.ts), because
 * `Deno.upgradeWebSocket` reads each message whole (up to 64 MiB) before we can look at its
 * size. Ours refuses a frame over 4 KiB by the length in its header (close 1009), before any
 * of it is buffered. Sending costs no more than Deno's native sockets did: a price's frame is
 * built once and the same bytes written to every subscriber.
 *
 * Limits, so that what a client costs is bounded whatever it sends:
 * - TCP connections in all (`server.maxConnections`: the WebSockets' cap plus 1,000 for plain
 *   HTTP and handshakes in progress; past it a new connection is closed at once), and a request
 *   whose headers are not all in within 10 s is cut (`headersTimeout`/`requestTimeout`), so a
 *   half-sent upgrade cannot hold a connection;
 * - sockets per client address and in all (429 / 503 at the upgrade); the address is the
 *   peer's, or X-Forwarded-For's when the peer is a trusted proxy (shared/client_address.ts);
 * - a message is at most 4 KiB (1009, by the frame's declared length) and at most 16 frames
 *   (1008); a fragmented message is copied into one buffer of at most 4 KiB per socket;
 * - per socket and 10 s: 100 messages (text, binary and pings), and 1,000 frames of any kind
 *   (fragments, pings and pongs included); past either, 1008;
 * - bytes waiting for a slow reader: 256 KiB a socket, and 64 MiB across all sockets; past
 *   its own limit a socket is closed (1013), and a send that would take the total past the
 *   budget first closes the socket with the most waiting (1013);
 * - an authenticated socket is closed when its token expires (4001);
 * - a peer that sends no whole frame for two heartbeats (30 s each) is dropped: it is pinged
 *   after one; bytes of a frame never finished do not count as being there.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { isAsset } from "@trading/shared/assets";
import { clientAddress, type TrustedProxies } from "@trading/shared/client_address";
import { type TokenClaims, verifyTokenClaims } from "@trading/shared/jwt";
import type { Logger } from "@trading/shared/log";
import {
  CANDLES_STREAM,
  lastStreamId,
  OUTPUT_STREAM,
  PRICES_STREAM,
  type RedisClient,
  type StreamEntryReply,
} from "@trading/shared/redis";
import { liveCandlesSchema } from "@trading/shared/candles";
import { followStreams } from "@trading/shared/stream_reader";
import { sleep } from "@trading/shared/wait";
import {
  type AccountFigures,
  decodeOutput,
  type EngineOutput,
  outputHeader,
} from "@trading/shared/schemas";
import { Registry, serveMetrics } from "@trading/shared/metrics";
import { CandleThrottle } from "./candle_throttle.ts";
import {
  addressKey,
  candleChannel,
  ConnectionCounter,
  Hub,
  type Reply,
  SendBudget,
} from "./hub.ts";
import { accountMessage } from "./account_message.ts";
import { orderMessage } from "./order_message.ts";
import {
  checkHandshake,
  CLOSE,
  closeFrame,
  type FrameEvent,
  FrameReader,
  OPCODE,
  serverFrame,
  textFrame,
} from "./ws_frames.ts";

/** Client messages over this many bytes close the socket (1009) unread. */
export const MAX_MESSAGE_BYTES = 4096;
/** Bytes a socket may have waiting before it is closed as too slow (1013). */
export const DEFAULT_MAX_BUFFERED_BYTES = 256 * 1024;
/** Bytes waiting across all sockets; a send past it closes the socket with the most (1013). */
export const DEFAULT_MAX_BUFFERED_BYTES_TOTAL = 64 * 1024 * 1024;
/** TCP connections beyond the WebSockets' cap: plain HTTP, and handshakes in progress. */
const HTTP_CONNECTIONS = 1_000;
/** setTimeout's longest delay; a later expiry is re-armed when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface GatewayOptions {
  port: number;
  /** Where the WebSocket and page server listens (config.bindHost). */
  hostname?: string;
  /** /metrics on a server of its own (config.gatewayMetricsPort, config.metricsHost). */
  metrics?: { port: number; hostname: string };
  /** A dedicated connection for the blocking read of engine:output. */
  reader: RedisClient;
  jwtSecret: string;
  log: Logger;
  /** Bytes a client may have waiting before it is closed as too slow (1013). */
  maxBufferedBytes?: number;
  /** Bytes waiting across all clients; a send past it closes the one with the most (1013). */
  maxBufferedBytesTotal?: number;
  /** Messages (text, binary, pings) a client may send per 10 s before it is closed (1008). */
  maxMessagesPer10s?: number;
  /** Frames of any kind a client may send per 10 s before it is closed (1008). */
  maxFramesPer10s?: number;
  /** Open sockets per client address, and in all; beyond, the upgrade gets 429 / 503. */
  maxSocketsPerIp?: number;
  maxSockets?: number;
  /**
   * Peers whose X-Forwarded-For gives the client's address for the per-address cap
   * (TRUSTED_PROXIES); nobody's when absent: the socket's peer is the client.
   */
  trustedProxies?: TrustedProxies;
  /** TCP connections in all, WebSockets included (server.maxConnections). */
  maxConnections?: number;
  /** How long an HTTP request (an upgrade's too) may take to arrive whole before it is cut. */
  requestTimeoutMs?: number;
  /** A socket silent this long is pinged; one that stays silent a second period is dropped. */
  heartbeatMs?: number;
  /** How long a closing socket may take to answer our close frame before it is cut. */
  closeGraceMs?: number;
  /** Extra HTTP routes (e.g. the web page), tried before the 404. */
  fallback?: (request: Request) => Response | undefined | Promise<Response | undefined>;
  onListen?: (port: number) => void;
}

export interface Gateway {
  port: number;
  /** The metrics server's port, if it is listening. */
  metricsPort: number | undefined;
  clients(): number;
  close(): Promise<void>;
}

/** One upgraded socket's state; the hub knows it by `id`. */
interface Connection {
  readonly id: number;
  readonly socket: Socket;
  readonly reader: FrameReader;
  state: "open" | "closing" | "closed";
  windowStartMs: number;
  messagesInWindow: number;
  framesInWindow: number;
  /** Heartbeats since the peer last sent a whole frame. */
  silentBeats: number;
  /** Bytes waiting to be sent, as the send budget last recorded them. */
  waitingBytes: number;
  /** Passed to each write: records what is still waiting once the write is flushed. */
  readonly onFlushed: () => void;
  /** Set while an auth message's token is being verified; later messages wait in `queued`. */
  authPending: boolean;
  queued: string[];
  expiryTimer: ReturnType<typeof setTimeout> | undefined;
  closeTimer: ReturnType<typeof setTimeout> | undefined;
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  404: "Not Found",
  426: "Upgrade Required",
  429: "Too Many Requests",
  503: "Service Unavailable",
};

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { log, reader } = options;
  const hub = new Hub();
  const connections = new Map<number, Connection>();
  const counter = new ConnectionCounter(
    options.maxSocketsPerIp ?? 50,
    options.maxSockets ?? 20_000,
  );
  const budget = new SendBudget<Connection>(
    options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
    options.maxBufferedBytesTotal ?? DEFAULT_MAX_BUFFERED_BYTES_TOTAL,
  );
  const maxMessages = options.maxMessagesPer10s ?? 100;
  const maxFrames = options.maxFramesPer10s ?? 1_000;
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  const heartbeatMs = options.heartbeatMs ?? 30_000;
  const closeGraceMs = options.closeGraceMs ?? 2_000;
  let nextId = 1;
  let running = true;

  const metrics = new Registry();
  metrics.gauge("gateway_clients", "connected WebSocket clients").track(() => hub.size);
  metrics.gauge("gateway_sockets", "sockets counted against the limits (upgrade to close)")
    .track(() => counter.total);
  metrics.gauge("gateway_buffered_bytes", "bytes waiting to be sent, across open sockets")
    .track(() => budget.waitingBytes);
  const sent = metrics.counter("gateway_messages_sent_total", "messages sent to clients");
  const slow = metrics.counter("gateway_slow_clients_closed_total", "clients closed with 1013");
  const refused = metrics.counter(
    "gateway_upgrades_refused_total",
    "upgrades refused, by reason (per_ip, total, token, handshake)",
  );
  const closedBy = metrics.counter(
    "gateway_closes_total",
    "sockets the gateway closed, by close code",
  );

  // ---- sending ----

  /**
   * Writes a frame unless the socket is closing or its reader has fallen too far behind. A
   * write that would take all sockets' waiting bytes past the budget first closes the socket
   * with the most waiting, which may be this one.
   */
  const sendFrame = (connection: Connection, frame: Uint8Array, isMessage = true): void => {
    if (connection.state !== "open") return;
    const buffered = connection.socket.writableLength;
    for (;;) {
      const admission = budget.admit(connection, buffered, frame.length);
      if (admission === "ok") break;
      const victim = admission === "slow" ? connection : budget.largest(connections.values());
      // Only open sockets are in `connections`, and closing one takes it out: this ends.
      if (victim === undefined || victim.state !== "open") break;
      closeSlow(victim, admission);
      if (victim === connection) return;
    }
    connection.socket.write(frame, connection.onFlushed);
    budget.record(connection, buffered + frame.length);
    if (isMessage) sent.inc();
  };

  const closeSlow = (connection: Connection, why: "slow" | "over_budget"): void => {
    log.warn(why === "slow" ? "closing a slow client" : "closing the slowest client: send budget", {
      buffered: connection.socket.writableLength,
      waitingInAll: budget.waitingBytes,
    });
    slow.inc();
    closeConnection(connection, CLOSE.tryAgainLater, "client too slow");
  };

  const sendReply = (connection: Connection, reply: Reply): void =>
    sendFrame(connection, textFrame(JSON.stringify(reply)));

  /** Closes a socket on the gateway's initiative (1008, 1013, 4001, 1001, a protocol failure). */
  const closeConnection = (
    connection: Connection,
    code: number,
    reason: string,
    { endNow = false } = {},
  ): void => {
    if (connection.state !== "open") return;
    closedBy.inc({ code: String(code) });
    beginClose(connection, closeFrame(code, reason), endNow);
  };

  /**
   * Sends a close frame and takes the connection out of the fan-out. The TCP connection ends
   * when the peer answers, or at once (`endNow`: a peer that broke the protocol gets no wait),
   * and is cut after closeGraceMs whatever the peer does: its place must come back.
   */
  const beginClose = (connection: Connection, frame: Uint8Array, endNow: boolean): void => {
    connection.state = "closing";
    forget(connection);
    connection.socket.write(frame);
    if (endNow) connection.socket.end();
    connection.closeTimer = setTimeout(() => connection.socket.destroy(), closeGraceMs);
  };

  /** Takes a connection out of the fan-out (its socket may still be flushing a close). */
  const forget = (connection: Connection): void => {
    connections.delete(connection.id);
    hub.remove(connection.id);
    // Its bytes still waiting go with the socket, cut closeGraceMs from now at the latest.
    budget.forget(connection);
    clearTimeout(connection.expiryTimer);
    connection.queued = [];
  };

  // ---- the engine's output ----

  const dispatch = (output: EngineOutput) => {
    if (output.kind === "price") {
      if (!isAsset(output.asset)) return;
      const targets = hub.priceTargets(output.asset);
      if (targets.size === 0) return;
      const { asset, bid, ask, ts } = output;
      // One frame for every subscriber: server frames are unmasked, so the bytes are the same.
      const frame = textFrame(JSON.stringify({ type: "price", asset, bid, ask, ts }));
      for (const id of targets) sendTo(id, frame);
      return;
    }
    // Answers are written to the asking API's reply stream, never here (docs/design.md §1).
    if (output.kind !== "event") return;
    // The account channel wants the figures after the batch: its latest per user is enough.
    if (output.account !== undefined && hub.accountTargets(output.userId).size !== 0) {
      accountUpdates.set(output.userId, output.account);
    }
    const targets = hub.orderTargets(output.userId);
    if (targets.size === 0) return;
    // `{"type":"order","event",...,"side"}`; an event this gateway does not know is skipped.
    const message = orderMessage(output.result);
    if (message === undefined) return;
    const frame = textFrame(message);
    for (const id of [...targets]) sendTo(id, frame);
  };

  const sendTo = (id: number, frame: Uint8Array) => {
    const connection = connections.get(id);
    if (connection !== undefined) sendFrame(connection, frame);
  };

  /** Each user's latest account figures of the batch being read, sent when it is done. */
  const accountUpdates = new Map<string, AccountFigures>();
  const flushAccounts = () => {
    for (const [userId, figures] of accountUpdates) {
      const frame = textFrame(accountMessage(figures));
      for (const id of [...hub.accountTargets(userId)]) sendTo(id, frame);
    }
    accountUpdates.clear();
  };

  // ---- candles: at most 4 messages a second per channel, latest wins (candle_throttle.ts) ----

  const throttle = new CandleThrottle();
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  const sendToChannel = (channel: string, frame: Uint8Array) => {
    for (const id of [...hub.channelTargets(channel)]) sendTo(id, frame);
  };
  const flushCandles = () => {
    flushTimer = undefined;
    for (const [channel, frame] of throttle.takeDue(performance.now())) {
      sendToChannel(channel, frame);
    }
    scheduleFlush();
  };
  const scheduleFlush = () => {
    const dueMs = throttle.nextDueMs();
    if (dueMs === undefined || flushTimer !== undefined || !running) return;
    flushTimer = setTimeout(flushCandles, Math.max(0, dueMs - performance.now()));
  };
  /** One `{e0}:candles` entry: the candles the writer changed, validated, to their channels. */
  const dispatchCandles = ([, flat]: StreamEntryReply) => {
    if (flat.length !== 2 || flat[0] !== "candles" || flat[1]!.length > 65_536) return;
    let parsed: ReturnType<typeof liveCandlesSchema.safeParse>;
    try {
      parsed = liveCandlesSchema.safeParse(JSON.parse(flat[1]!));
    } catch {
      return;
    }
    if (!parsed.success) return;
    for (const candle of parsed.data) {
      const channel = candleChannel(candle.asset, candle.interval);
      if (hub.channelTargets(channel).size === 0) continue;
      const frame = textFrame(JSON.stringify({ type: "candle", ...candle }));
      const now = throttle.offer(channel, candle.t, frame, performance.now());
      if (now !== undefined) sendToChannel(channel, now);
    }
    scheduleFlush();
  };

  // Order events, prices and candles only: one XREAD follows all three (one hash tag).
  const [outputAfter, pricesAfter, candlesAfter] = await Promise.all([
    lastStreamId(reader, OUTPUT_STREAM),
    lastStreamId(reader, PRICES_STREAM),
    lastStreamId(reader, CANDLES_STREAM),
  ]);
  const outputs = followStreams({
    reader,
    streams: {
      [OUTPUT_STREAM]: outputAfter,
      [PRICES_STREAM]: pricesAfter,
      [CANDLES_STREAM]: candlesAfter,
    },
    count: 1000,
    blockMs: 1000,
    running: () => running,
    log,
    retryMessage: "output read failed; retrying",
  });
  const pump = (async () => {
    for await (const batch of outputs) {
      for (const [stream, entries] of batch) {
        if (stream === CANDLES_STREAM) {
          entries.forEach(dispatchCandles);
          continue;
        }
        for (const [, flat] of entries) {
          try {
            // Parse only what someone here will receive.
            const header = outputHeader(flat);
            if (header.kind !== "price" && !hub.wantsUser(header.userId ?? "")) continue;
            const output = decodeOutput(flat);
            if (output !== undefined) dispatch(output);
          } catch (error) {
            // Should one output ever fail here, the fan-out goes on with the next after the
            // pause of a failed read: it must never stop.
            log.warn("output read failed; retrying", { error });
            await sleep(200);
          }
        }
      }
      flushAccounts();
    }
  })();

  // ---- a client's messages ----

  const onFrame = (connection: Connection, event: FrameEvent): void => {
    if (connection.state === "closed") return;
    switch (event.kind) {
      case "close":
        // The peer's close: echoed, unless ours went out first; either way the exchange is over.
        if (connection.state === "open") {
          beginClose(connection, closeFrame(event.code ?? CLOSE.normal, ""), true);
        } else {
          connection.socket.end();
        }
        return;
      case "fail":
        closeConnection(connection, event.code, event.reason, { endNow: true });
        return;
    }
    if (connection.state !== "open") return;
    // A whole frame shows the peer is there; bytes of a frame it never finishes do not.
    connection.silentBeats = 0;
    const isMessage = event.kind !== "fragment" && event.kind !== "pong";
    if (!withinRate(connection, isMessage) || !isMessage) return;
    if (event.kind === "ping") {
      sendFrame(connection, serverFrame(OPCODE.pong, event.payload), false);
    } else if (event.kind === "binary") {
      sendReply(connection, { type: "error", code: "binary", message: "send text frames" });
    } else if (connection.authPending) {
      // Answered in order: a subscribe sent right behind an auth sees its outcome.
      connection.queued.push(event.text);
    } else {
      handleText(connection, event.text);
    }
  };

  /**
   * Counts a frame, and a message if it is one, against the client's budgets for the current
   * 10 s; closes the socket (1008) past either.
   */
  const withinRate = (connection: Connection, isMessage: boolean): boolean => {
    const nowMs = Date.now();
    if (nowMs - connection.windowStartMs > 10_000) {
      connection.windowStartMs = nowMs;
      connection.messagesInWindow = 0;
      connection.framesInWindow = 0;
    }
    if (++connection.framesInWindow > maxFrames) {
      closeConnection(connection, CLOSE.policy, "too many frames");
      return false;
    }
    if (isMessage && ++connection.messagesInWindow > maxMessages) {
      closeConnection(connection, CLOSE.policy, "too many messages");
      return false;
    }
    return true;
  };

  const handleText = (connection: Connection, text: string): void => {
    const result = hub.handle(connection.id, text);
    if (result.type !== "auth") {
      sendReply(connection, result);
      return;
    }
    connection.authPending = true;
    void completeAuth(connection, result.token);
  };

  /** Verifies an auth message's token, answers it, then the messages that waited behind it. */
  const completeAuth = async (connection: Connection, token: string): Promise<void> => {
    let claims: TokenClaims | undefined;
    try {
      claims = await verifyTokenClaims(token, options.jwtSecret);
    } catch (error) {
      log.warn("token verification failed", { error });
    }
    if (connection.state !== "open") return;
    connection.authPending = false;
    sendReply(connection, authenticate(connection, claims));
    while (connection.state === "open" && !connection.authPending) {
      const next = connection.queued.shift();
      if (next === undefined) break;
      handleText(connection, next);
    }
  };

  const authenticate = (connection: Connection, claims: TokenClaims | undefined): Reply => {
    if (claims === undefined) {
      return { type: "error", code: "unauthorized", message: "invalid or expired token" };
    }
    const reply = hub.authenticate(connection.id, claims.userId, claims.expSec);
    if (reply.type === "authenticated") armExpiry(connection);
    return reply;
  };

  /** Closes the socket (4001) when the token it authenticated with expires. */
  const armExpiry = (connection: Connection): void => {
    clearTimeout(connection.expiryTimer);
    const expSec = hub.expiresAtSec(connection.id);
    if (expSec === undefined) return;
    const delayMs = expSec * 1000 - Date.now();
    if (delayMs <= 0) {
      closeConnection(connection, CLOSE.tokenExpired, "token expired");
      return;
    }
    connection.expiryTimer = setTimeout(
      () => armExpiry(connection),
      Math.min(delayMs, MAX_TIMER_MS),
    );
  };

  // ---- the upgrade ----

  const upgrade = async (request: IncomingMessage, socket: Socket, head: Uint8Array) => {
    socket.on("error", (error) => log.debug("WebSocket socket error", { error }));
    // node:http sockets are half-open capable: a peer's FIN alone would leave ours open (and
    // its place held) forever. A WebSocket has no use for half a connection.
    socket.on("end", () => socket.end());
    const url = parseUrl(request);
    if (url.pathname !== "/ws") {
      return refuse(socket, 404, "not_found", "no such endpoint");
    }
    const handshake = checkHandshake(request.method, request.headers);
    if (!handshake.ok) {
      refused.inc({ reason: "handshake" });
      return refuse(socket, handshake.status, handshake.code, handshake.message);
    }
    // node:http joins repeated X-Forwarded-For headers with commas, in order; so does this.
    const forwarded = request.headers["x-forwarded-for"];
    const ip = addressKey(clientAddress(
      socket.remoteAddress,
      Array.isArray(forwarded) ? forwarded.join(",") : forwarded,
      options.trustedProxies ?? [],
    ));
    const admission = counter.tryOpen(ip);
    if (admission !== "ok") {
      refused.inc({ reason: admission });
      return admission === "per_ip"
        ? refuse(socket, 429, "rate_limited", "too many WebSockets from this address")
        : refuse(socket, 503, "unavailable", "the gateway is at its WebSocket limit");
    }
    // The place is held from here until the socket closes, however it closes.
    let held = true;
    const release = () => {
      if (held) counter.release(ip);
      held = false;
    };
    socket.once("close", release);
    if (socket.destroyed) return release();

    const token = url.searchParams.get("token");
    let claims: TokenClaims | undefined;
    if (token !== null) {
      claims = await verifyTokenClaims(token, options.jwtSecret);
      if (claims === undefined) {
        refused.inc({ reason: "token" });
        return refuse(socket, 401, "unauthorized", "invalid token");
      }
    }
    if (socket.destroyed || !running) return socket.destroy();
    open(socket, handshake.accept, claims, head);
  };

  const open = (
    socket: Socket,
    accept: string,
    claims: TokenClaims | undefined,
    head: Uint8Array,
  ) => {
    socket.setNoDelay(true);
    socket.setTimeout(0);
    socket.write(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    const connection: Connection = {
      id: nextId++,
      socket,
      reader: new FrameReader(MAX_MESSAGE_BYTES),
      state: "open",
      windowStartMs: Date.now(),
      messagesInWindow: 0,
      framesInWindow: 0,
      silentBeats: 0,
      waitingBytes: 0,
      onFlushed: () => {
        if (connection.state === "open") budget.record(connection, socket.writableLength);
      },
      authPending: false,
      queued: [],
      expiryTimer: undefined,
      closeTimer: undefined,
    };
    connections.set(connection.id, connection);
    hub.add(connection.id, claims?.userId, claims?.expSec);
    armExpiry(connection);
    const onData = (chunk: Uint8Array) => {
      try {
        connection.reader.push(chunk, (event) => onFrame(connection, event));
      } catch (error) {
        // A bug, not the client's fault; still, one socket is all it may cost.
        log.error("WebSocket message handling failed", { error });
        socket.destroy();
      }
    };
    socket.on("data", onData);
    socket.on("close", () => {
      if (connection.state === "open") forget(connection);
      connection.state = "closed";
      clearTimeout(connection.closeTimer);
    });
    if (head.length > 0) onData(head);
  };

  // ---- plain HTTP ----

  const respond = async (request: IncomingMessage, response: ServerResponse) => {
    try {
      const url = parseUrl(request);
      let answer: Response | undefined;
      if (url.pathname === "/health") {
        answer = Response.json({ status: "ok", clients: hub.size });
      } else if (url.pathname === "/ws") {
        answer = jsonError(426, "upgrade_required", "connect with a WebSocket");
      } else if (request.method === "GET" || request.method === "HEAD") {
        // The fallback (the page) serves GET and HEAD only: no request body to carry over.
        answer = await options.fallback?.(toFetchRequest(request, url));
      }
      await writeResponse(
        response,
        answer ?? jsonError(404, "not_found", "no such endpoint"),
        request.method === "HEAD",
      );
    } catch (error) {
      log.error("request failed", { error });
      if (!response.headersSent) response.writeHead(500, { "content-type": "application/json" });
      response.end('{"error":{"code":"internal","message":"internal error"}}');
    }
  };

  // ---- heartbeats: a peer that vanished without a FIN must not hold its place forever ----

  const heartbeat = setInterval(() => {
    const ping = serverFrame(OPCODE.ping, new Uint8Array(0));
    for (const connection of connections.values()) {
      // Silent for a whole beat: pinged; still silent a beat later: gone.
      if (++connection.silentBeats >= 2) connection.socket.destroy();
      else sendFrame(connection, ping, false);
    }
  }, heartbeatMs);

  const server = createServer({
    // Node checks these every connectionsCheckingInterval (30 s by default): check each second.
    headersTimeout: requestTimeoutMs,
    requestTimeout: requestTimeoutMs,
    connectionsCheckingInterval: Math.min(1_000, requestTimeoutMs),
  }, (request, response) => void respond(request, response));
  // Every TCP connection, upgraded ones included, until it closes; past it, closed at once.
  server.maxConnections = options.maxConnections ?? counter.maxTotal + HTTP_CONNECTIONS;
  // An HTTP server's upgrade socket is a net.Socket (a Duplex in the types, for HTTP/2's sake).
  server.on(
    "upgrade",
    (request, socket, head) =>
      upgrade(request, socket as Socket, head).catch((error) => {
        log.error("WebSocket upgrade failed", { error });
        socket.destroy();
      }),
  );
  server.on("clientError", (_error, socket) => socket.destroy());
  const port = await listen(server, options.port, options.hostname ?? "0.0.0.0");
  options.onListen?.(port);

  const metricsServer = options.metrics === undefined ? undefined : serveMetrics(
    metrics,
    options.metrics.port,
    (error) => log.warn("cannot serve /metrics", { port: options.metrics?.port, error }),
    options.metrics.hostname,
  );

  return {
    port,
    metricsPort: (metricsServer?.addr as Deno.NetAddr | undefined)?.port,
    clients: () => hub.size,
    async close() {
      running = false;
      clearInterval(heartbeat);
      clearTimeout(flushTimer);
      for (const connection of [...connections.values()]) {
        closeConnection(connection, CLOSE.goingAway, "server stopping", { endNow: true });
      }
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      });
      await metricsServer?.shutdown();
      await pump;
    },
  };
}

/** The request's URL; a malformed target or Host header gives a URL that matches no route. */
function parseUrl(request: IncomingMessage): URL {
  try {
    return new URL(request.url ?? "/", "http://gateway");
  } catch {
    return new URL("http://gateway/invalid");
  }
}

function toFetchRequest(request: IncomingMessage, url: URL): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (typeof value === "string") headers.set(name, value);
    else for (const item of value ?? []) headers.append(name, item);
  }
  const host = request.headers.host ?? "gateway";
  let target: URL;
  try {
    target = new URL(url.pathname + url.search, `http://${host}`);
  } catch {
    target = url;
  }
  return new Request(target, { method: request.method, headers });
}

async function writeResponse(
  target: ServerResponse,
  answer: Response,
  headOnly: boolean,
): Promise<void> {
  const body = new Uint8Array(await answer.arrayBuffer());
  const headers: Record<string, string> = {};
  answer.headers.forEach((value, name) => headers[name] = value);
  headers["content-length"] = String(body.length);
  target.writeHead(answer.status, headers);
  target.end(headOnly ? undefined : body);
}

function jsonError(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status });
}

/** Answers an upgrade request with an HTTP error (the socket never became a WebSocket). */
function refuse(socket: Socket, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  const extra = status === 426 ? "sec-websocket-version: 13\r\n" : "";
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Error"}\r\ncontent-type: application/json\r\n` +
      `content-length: ${new TextEncoder().encode(body).length}\r\nconnection: close\r\n${extra}` +
      `\r\n${body}`,
    () => socket.destroy(),
  );
}

function listen(server: Server, port: number, hostname: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => {
      server.off("error", reject);
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : port);
    });
  });
}
