/**
 * The gateway's WebSocket server: reads engine:output (its own blocking connection, from the
 * stream's end at boot) and pushes prices and each user's own order events. A client whose
 * send buffer grows past the limit is closed with 1013 instead of buffering without bound.
 */
import type { Redis } from "ioredis";
import { isAsset } from "@trading/shared/assets";
import { verifyToken } from "@trading/shared/jwt";
import type { Logger } from "@trading/shared/log";
import { lastStreamId, OUTPUT_STREAM, watchedRead, type XReadReply } from "@trading/shared/redis";
import { decodeOutput, type EngineOutput, outputHeader, toApiJson } from "@trading/shared/schemas";
import { PROMETHEUS_CONTENT_TYPE, Registry } from "@trading/shared/metrics";
import { Hub } from "./hub.ts";

export interface GatewayOptions {
  port: number;
  hostname?: string;
  /** A dedicated connection for the blocking read of engine:output. */
  reader: Redis;
  jwtSecret: string;
  log: Logger;
  /** Bytes a client may have waiting before it is closed as too slow. */
  maxBufferedBytes?: number;
  /** Messages a client may send per 10 s before it is closed (1008). */
  maxMessagesPer10s?: number;
  /** Extra HTTP routes (e.g. the web page), tried before the 404. */
  fallback?: (request: Request) => Response | undefined | Promise<Response | undefined>;
  onListen?: (port: number) => void;
}

export interface Gateway {
  port: number;
  clients(): number;
  close(): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { log, reader } = options;
  const hub = new Hub();
  const sockets = new Map<number, WebSocket>();
  const maxBuffered = options.maxBufferedBytes ?? 1 << 20;
  const maxMessages = options.maxMessagesPer10s ?? 100;
  let nextId = 1;
  let running = true;
  const metrics = new Registry();
  metrics.gauge("gateway_clients", "connected WebSocket clients").track(() => hub.size);
  const sent = metrics.counter("gateway_messages_sent_total", "messages sent to clients");
  const slow = metrics.counter("gateway_slow_clients_closed_total", "clients closed with 1013");

  const send = (id: number, text: string) => {
    const socket = sockets.get(id);
    if (socket === undefined || socket.readyState !== WebSocket.OPEN) return;
    if (socket.bufferedAmount > maxBuffered) {
      log.warn("closing a slow client", { buffered: socket.bufferedAmount });
      socket.close(1013, "client too slow");
      slow.inc();
      return;
    }
    socket.send(text);
    sent.inc();
  };

  const dispatch = (output: EngineOutput) => {
    if (output.kind === "price") {
      if (!isAsset(output.asset)) return;
      const { asset, bid, ask, ts } = output;
      const text = JSON.stringify({ type: "price", asset, bid, ask, ts });
      for (const id of hub.priceTargets(output.asset)) send(id, text);
      return;
    }
    let result;
    if (output.kind === "event") result = output.result;
    else if (output.ok && !output.replayed) result = output.result;
    if (result === undefined || (result.event !== "opened" && result.event !== "closed")) return;
    const targets = hub.orderTargets(output.userId);
    if (targets.size === 0) return;
    // The message's `type` is "order", so the position's long/short travels as `side`.
    const { type: side, ...fields } = result;
    const text = toApiJson({ type: "order", ...fields, side });
    for (const id of targets) send(id, text);
  };

  let lastId = await lastStreamId(reader, OUTPUT_STREAM);
  const pump = (async () => {
    while (running) {
      try {
        const reply = await watchedRead(reader, () =>
          reader.xread(
            "COUNT",
            1000,
            "BLOCK",
            1000,
            "STREAMS",
            OUTPUT_STREAM,
            lastId,
          ), 1000) as XReadReply;
        for (const [id, flat] of reply?.[0]?.[1] ?? []) {
          lastId = id;
          // Parse only what someone here will receive.
          const header = outputHeader(flat);
          if (header.kind !== "price" && hub.orderTargets(header.userId ?? "").size === 0) continue;
          const output = decodeOutput(flat);
          if (output !== undefined) dispatch(output);
        }
      } catch (error) {
        if (!running) break;
        log.warn("output read failed; retrying", { error });
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  })();

  const server = Deno.serve({
    port: options.port,
    hostname: options.hostname ?? "0.0.0.0",
    onListen: ({ port }) => options.onListen?.(port),
  }, async (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/health") return Response.json({ status: "ok", clients: hub.size });
    if (url.pathname === "/metrics") {
      return new Response(metrics.render(), {
        headers: { "content-type": PROMETHEUS_CONTENT_TYPE },
      });
    }
    if (url.pathname !== "/ws") {
      return (await options.fallback?.(request)) ??
        Response.json({ error: { code: "not_found", message: "no such endpoint" } }, {
          status: 404,
        });
    }
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return Response.json(
        { error: { code: "upgrade_required", message: "connect with a WebSocket" } },
        { status: 426 },
      );
    }
    const token = url.searchParams.get("token");
    const userId = token === null ? undefined : await verifyToken(token, options.jwtSecret);
    if (token !== null && userId === undefined) {
      return Response.json({ error: { code: "unauthorized", message: "invalid token" } }, {
        status: 401,
      });
    }
    const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout: 60 });
    const id = nextId++;
    let windowStart = Date.now();
    let messages = 0;
    socket.onopen = () => {
      sockets.set(id, socket);
      hub.add(id, userId);
    };
    socket.onmessage = (event) => {
      if (Date.now() - windowStart > 10_000) {
        windowStart = Date.now();
        messages = 0;
      }
      if (++messages > maxMessages) {
        socket.close(1008, "too many messages");
        return;
      }
      if (typeof event.data !== "string") {
        send(id, JSON.stringify({ type: "error", code: "binary", message: "send text frames" }));
        return;
      }
      send(id, JSON.stringify(hub.handle(id, event.data)));
    };
    const forget = () => {
      sockets.delete(id);
      hub.remove(id);
    };
    socket.onclose = forget;
    socket.onerror = forget;
    return response;
  });

  return {
    port: server.addr.port,
    clients: () => hub.size,
    async close() {
      running = false;
      for (const socket of sockets.values()) socket.close(1001, "server stopping");
      await server.shutdown();
      await pump;
    },
  };
}
