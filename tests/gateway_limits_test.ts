/**
 * The gateway's limits against the real process: where it listens, sockets per address and in
 * all, frames refused by their declared size, fragment and frame floods, auth by message,
 * sockets closed when their token expires, and slow readers. The limits no environment
 * variable sets (the request timeout, TCP connections in all, the send budget across sockets)
 * are tested on a gateway started in this process with low values. Only Redis is needed:
 * engine output (prices, order events) is written to engine:output here, as the engine would.
 */
import assert from "node:assert/strict";
import { sign } from "hono/jwt";
import { signToken } from "@trading/shared/jwt";
import { createLogger } from "@trading/shared/log";
import { connectRedis, OUTPUT_STREAM, PRICES_STREAM } from "@trading/shared/redis";
import { encodeOutput, type EngineOutput } from "@trading/shared/schemas";
import { type Gateway, type GatewayOptions, startGateway } from "../gateway/server.ts";
import { type Env, eventually, JWT_SECRET, sleep, withEnv, WsClient } from "./harness.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A WebSocket client on a raw TCP connection: it can send what no WebSocket API would. */
class RawClient {
  readonly frames: Array<{ opcode: number; payload: Uint8Array }> = [];
  /** The server closed the TCP connection (or it failed). */
  ended = false;
  #buffer: Uint8Array = new Uint8Array(0);
  private constructor(readonly conn: Deno.TcpConn) {}

  /** Sends an upgrade request; the HTTP answer, and a client when it is 101. */
  static async upgrade(
    port: number,
    options: {
      path?: string;
      headers?: Record<string, string>;
      /** False: never read after the handshake (a stalled reader). */
      read?: boolean;
    } = {},
  ): Promise<{ status: number; head: string; body: string; client: RawClient | undefined }> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const headers: Record<string, string> = {
      host: `127.0.0.1:${port}`,
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16)))),
      "sec-websocket-version": "13",
      ...options.headers,
    };
    const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join("");
    await conn.write(encoder.encode(`GET ${options.path ?? "/ws"} HTTP/1.1\r\n${lines}\r\n`));
    const client = new RawClient(conn);
    const head = await client.#readHead();
    const status = Number(head.slice(9, 12));
    if (status === 101) {
      if (options.read !== false) client.#readFrames();
      return { status, head, body: "", client };
    }
    const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    while (client.#buffer.length < length && await client.#fill());
    conn.close();
    return {
      status,
      head,
      body: decoder.decode(client.#buffer.subarray(0, length)),
      client: undefined,
    };
  }

  async #fill(): Promise<boolean> {
    const chunk = new Uint8Array(64 * 1024);
    const n = await this.conn.read(chunk).catch(() => null);
    if (n === null) return false;
    const joined = new Uint8Array(this.#buffer.length + n);
    joined.set(this.#buffer);
    joined.set(chunk.subarray(0, n), this.#buffer.length);
    this.#buffer = joined;
    return true;
  }

  async #readHead(): Promise<string> {
    for (;;) {
      const end = decoder.decode(this.#buffer).indexOf("\r\n\r\n");
      if (end >= 0) {
        const head = decoder.decode(this.#buffer).slice(0, end);
        this.#buffer = this.#buffer.subarray(end + 4);
        return head;
      }
      if (!await this.#fill()) throw new Error("closed during the handshake");
    }
  }

  async #readFrames(): Promise<void> {
    for (;;) {
      while (this.#buffer.length >= 2) {
        let length = this.#buffer[1]! & 0x7f;
        let header = 2;
        if (length === 126) {
          if (this.#buffer.length < 4) break;
          length = (this.#buffer[2]! << 8) | this.#buffer[3]!;
          header = 4;
        } else if (length === 127) {
          if (this.#buffer.length < 10) break;
          length = Number(new DataView(this.#buffer.buffer, this.#buffer.byteOffset + 2, 8)
            .getBigUint64(0));
          header = 10;
        }
        if (this.#buffer.length < header + length) break;
        this.frames.push({
          opcode: this.#buffer[0]! & 0x0f,
          payload: this.#buffer.slice(header, header + length),
        });
        this.#buffer = this.#buffer.subarray(header + length);
      }
      if (!await this.#fill()) break;
    }
    this.ended = true;
  }

  /** The code of the server's close frame, if one came. */
  get closeCode(): number | undefined {
    const close = this.frames.find((f) => f.opcode === 8);
    return close === undefined ? undefined : (close.payload[0]! << 8) | close.payload[1]!;
  }

  texts(): Array<Record<string, unknown>> {
    return this.frames.filter((f) => f.opcode === 1).map((f) =>
      JSON.parse(decoder.decode(f.payload))
    );
  }

  async write(bytes: Uint8Array): Promise<void> {
    await this.conn.write(bytes);
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

/** A masked client frame; `declaredLength` may claim more payload than is sent. */
function maskedFrame(
  opcode: number,
  payload: Uint8Array,
  options: { fin?: boolean; declaredLength?: number } = {},
): Uint8Array {
  const length = options.declaredLength ?? payload.length;
  const extended = length < 126 ? 0 : length < 65_536 ? 2 : 8;
  const frame = new Uint8Array(2 + extended + 4 + payload.length);
  frame[0] = (options.fin === false ? 0 : 0x80) | opcode;
  if (extended === 0) frame[1] = 0x80 | length;
  else if (extended === 2) {
    frame[1] = 0x80 | 126;
    frame[2] = length >> 8;
    frame[3] = length & 0xff;
  } else {
    frame[1] = 0x80 | 127;
    new DataView(frame.buffer).setBigUint64(2, BigInt(length));
  }
  const mask = crypto.getRandomValues(new Uint8Array(4));
  frame.set(mask, 2 + extended);
  for (let i = 0; i < payload.length; i++) {
    frame[2 + extended + 4 + i] = payload[i]! ^ mask[i % 4]!;
  }
  return frame;
}

const text = (value: unknown) => encoder.encode(JSON.stringify(value));

async function scrapeGauge(env: Env, name: string): Promise<number | undefined> {
  return await scrapeMetric(env.ports.gatewayMetrics, name);
}

async function scrapeMetric(port: number | undefined, name: string): Promise<number | undefined> {
  const body = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
  const line = body.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
}

/** Frames one after another in a single write. */
function joinFrames(frames: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  frames.reduce((at, f) => (out.set(f, at), at + f.length), 0);
  return out;
}

/** Writes `bytes` `times` over, until the server closes the connection. */
async function flood(client: RawClient, bytes: Uint8Array, times: number): Promise<void> {
  try {
    for (let i = 0; i < times && !client.ended && client.closeCode === undefined; i++) {
      await client.write(bytes);
    }
  } catch {
    // the server closed the connection: what the flood is for
  }
}

/** Whether the server ends the connection within `ms`: EOF or a reset, not a timeout. */
async function endsWithin(conn: Deno.TcpConn, ms: number): Promise<boolean> {
  const buffer = new Uint8Array(4096);
  const ended = (async () => {
    try {
      while (await conn.read(buffer) !== null);
    } catch {
      // reset: ended too
    }
    return true;
  })();
  return await Promise.race([ended, sleep(ms).then(() => false)]);
}

/**
 * The gateway in this process, for options no environment variable sets; its logs are kept
 * in `logs`. Reads engine:output from the test's own Redis database.
 */
async function inProcessGateway(
  env: Env,
  options: Partial<GatewayOptions>,
): Promise<{ gateway: Gateway; logs: string[]; close(): Promise<void> }> {
  const reader = connectRedis(env.env.REDIS_URL, { name: "test-gateway-reader" });
  const logs: string[] = [];
  const gateway = await startGateway({
    port: 0,
    hostname: "127.0.0.1",
    metrics: { port: 0, hostname: "127.0.0.1" },
    reader,
    jwtSecret: JWT_SECRET,
    log: createLogger("gateway", "info", (line) => logs.push(line)),
    ...options,
  });
  return {
    gateway,
    logs,
    async close() {
      await gateway.close();
      reader.disconnect();
    },
  };
}

/** Writes `count` prices of `asset` to the prices stream, in pipelines of 10,000. */
async function writePrices(env: Env, asset: string, count: number): Promise<void> {
  const quote = { kind: "price", cause: "0-1", asset, bid: "97000.5", ask: "97001.5" };
  for (let done = 0; done < count; done += 10_000) {
    const pipeline = env.redis.pipeline();
    for (let i = done; i < Math.min(count, done + 10_000); i++) {
      pipeline.xadd(
        PRICES_STREAM,
        "*",
        ...encodeOutput({ ...quote, ts: Date.now() } as EngineOutput),
      );
    }
    await pipeline.exec();
  }
}

async function writeOutput(env: Env, output: EngineOutput): Promise<void> {
  await env.redis.xadd(OUTPUT_STREAM, "*", ...encodeOutput(output));
}

const wsUrl = (env: Env) => `ws://127.0.0.1:${env.ports.gateway}/ws`;

Deno.test("the gateway listens on BIND_HOST; /metrics only on its own port, on METRICS_HOST", async () => {
  await withEnv({}, async (env) => {
    // BIND_HOST is 127.0.0.1 (the harness); metrics on another loopback address to tell apart.
    await env.startGateway({ METRICS_HOST: "127.0.0.2" });
    const gateway = env.ports.gateway;
    const metricsPort = env.ports.gatewayMetrics;

    const publicMetrics = await fetch(`http://127.0.0.1:${gateway}/metrics`);
    assert.equal(publicMetrics.status, 404);
    assert.equal((await publicMetrics.json()).error.code, "not_found");

    const metrics = await eventually("metrics on METRICS_HOST", async () => {
      const response = await fetch(`http://127.0.0.2:${metricsPort}/metrics`);
      return response.ok ? await response.text() : undefined;
    });
    assert.match(metrics, /gateway_clients 0/);

    const refused = (url: string) =>
      fetch(url).then((r) => r.body?.cancel().then(() => false), () => true);
    assert.ok(await refused(`http://127.0.0.1:${metricsPort}/metrics`), "metrics on 127.0.0.1");
    assert.ok(await refused(`http://127.0.0.2:${gateway}/health`), "public port on 127.0.0.2");
    const health = await fetch(`http://127.0.0.1:${gateway}/health`).then((r) => r.json());
    assert.equal(health.status, "ok");
  });
});

Deno.test("WS_MAX_PER_IP: the next upgrade gets 429, and no kind of ending leaks a place", async () => {
  await withEnv({}, async (env) => {
    await env.startGateway({ WS_MAX_PER_IP: "3" });
    const port = env.ports.gateway;

    // Ways a socket can end other than a clean close; each must give its place back.
    const released = (what: string) =>
      eventually(
        `${what}: place given back`,
        async () => await scrapeGauge(env, "gateway_sockets") === 0,
        5000,
      );
    const forged = await RawClient.upgrade(port, { path: "/ws?token=forged" });
    assert.equal(forged.status, 401);
    await released("a forged token");
    const badVersion = await RawClient.upgrade(port, { headers: { "sec-websocket-version": "8" } });
    assert.equal(badVersion.status, 426);
    await released("a bad handshake");
    // Upgraded, then the TCP connection dropped without a close frame.
    const dropped = await RawClient.upgrade(port);
    dropped.client!.close();
    await released("a dropped connection");
    // A protocol error (an unmasked frame): closed by the server with 1002.
    const broken = await RawClient.upgrade(port);
    await broken.client!.write(new Uint8Array([0x81, 0x02, 0x68, 0x69]));
    await eventually("the unmasked frame refused", () => broken.client!.closeCode === 1002, 5000);
    await released("a protocol error");
    broken.client!.close();
    // A close frame, then the TCP connection held open: cut after the grace period.
    const lingering = await RawClient.upgrade(port);
    await lingering.client!.write(maskedFrame(8, new Uint8Array([0x03, 0xe8])));
    await eventually("the close echoed", () => lingering.client!.closeCode === 1000, 5000);
    await released("a close frame on a connection held open");
    lingering.client!.close();
    // A handshake cut off before the answer could be read.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(encoder.encode(
      "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ));
    conn.close();
    await released("a handshake cut off");

    const open = await Promise.all([1, 2, 3].map(() => WsClient.connect(wsUrl(env))));
    const over = await RawClient.upgrade(port);
    assert.equal(over.status, 429);
    assert.deepEqual(JSON.parse(over.body).error.code, "rate_limited");
    assert.equal(typeof JSON.parse(over.body).error.message, "string");

    // A closed socket's place is free again.
    open[0]!.close();
    const again = await eventually("a place after a close", async () => {
      const attempt = await RawClient.upgrade(port);
      return attempt.status === 101 ? attempt.client : undefined;
    });
    again.close();
    for (const client of open) client.close();
    await eventually("all closed", async () => await scrapeGauge(env, "gateway_sockets") === 0);
  });
});

Deno.test("WS_MAX: past the total, the upgrade gets 503 unavailable", async () => {
  await withEnv({}, async (env) => {
    await env.startGateway({ WS_MAX: "2" });
    const first = await WsClient.connect(wsUrl(env));
    const second = await WsClient.connect(wsUrl(env));
    const over = await RawClient.upgrade(env.ports.gateway);
    assert.equal(over.status, 503);
    assert.equal(JSON.parse(over.body).error.code, "unavailable");
    first.close();
    second.close();
  });
});

Deno.test("a frame declared over 4 KiB closes the socket with 1009 before its payload is sent", async () => {
  await withEnv({}, async (env) => {
    await env.startGateway();
    const port = env.ports.gateway;

    // 2 MiB declared, 16 bytes sent: the server must judge by the header, not wait for the rest.
    const huge = (await RawClient.upgrade(port)).client!;
    await huge.write(maskedFrame(1, new Uint8Array(16), { declaredLength: 2 * 1024 * 1024 }));
    await eventually("close 1009", () => huge.closeCode === 1009, 3000);
    await eventually("the connection ended", () => huge.ended, 3000);
    assert.deepEqual(huge.texts(), []);

    // 4097 bytes in one frame, and a message fragmented past 4 KiB: both 1009.
    const over = (await RawClient.upgrade(port)).client!;
    await over.write(maskedFrame(1, encoder.encode("x".repeat(4097))));
    await eventually("close 1009 at 4097 bytes", () => over.closeCode === 1009, 3000);
    const fragmented = (await RawClient.upgrade(port)).client!;
    const part = encoder.encode(" ".repeat(2000));
    await fragmented.write(maskedFrame(1, encoder.encode("{"), { fin: false }));
    await fragmented.write(maskedFrame(0, part, { fin: false }));
    await fragmented.write(maskedFrame(0, part, { fin: false }));
    await fragmented.write(maskedFrame(0, part, { fin: true }));
    await eventually("close 1009 for fragments", () => fragmented.closeCode === 1009, 3000);

    // A message of exactly 4 KiB, and a fragmented small one, are answered.
    const fits = await WsClient.connect(wsUrl(env));
    const padded = JSON.stringify({ type: "ping", pad: "" });
    fits.send(JSON.stringify({ type: "ping", pad: "p".repeat(4096 - padded.length) }));
    await eventually("pong to 4 KiB", () => fits.messages.some((m) => m.type === "pong"), 3000);
    const pieces = (await RawClient.upgrade(port)).client!;
    await pieces.write(maskedFrame(1, encoder.encode('{"type":'), { fin: false }));
    await pieces.write(maskedFrame(9, encoder.encode("hi"))); // a ping between fragments
    await pieces.write(maskedFrame(0, encoder.encode('"ping"}'), { fin: true }));
    await eventually(
      "pong to fragments",
      () => pieces.texts().some((m) => m.type === "pong"),
      3000,
    );
    assert.ok(pieces.frames.some((f) => f.opcode === 10), "no pong frame for the ping");
    assert.equal(fits.closeCode, undefined);
    for (const client of [huge, over, fragmented, pieces]) client.close();
    fits.close();
  });
});

Deno.test("fragment and frame floods are closed (1008), and the server gives their places back", async () => {
  await withEnv({}, async (env) => {
    await env.startGateway();
    const port = env.ports.gateway;
    const empty = new Uint8Array(0);

    // Empty continuation frames: nothing against the 4 KiB limit, but a message is at most 16
    // frames. Streamed in writes of 1,000 frames; the server must close, not keep collecting.
    const zeros = (await RawClient.upgrade(port)).client!;
    await zeros.write(maskedFrame(1, empty, { fin: false }));
    const thousandEmpty = joinFrames(
      Array.from({ length: 1000 }, () => maskedFrame(0, empty, { fin: false })),
    );
    await flood(zeros, thousandEmpty, 1000);
    await eventually("empty continuations closed", () => zeros.closeCode === 1008, 5000);

    // One-byte fragments: the same, long before 4,000 of them add up to the byte limit.
    const ones = (await RawClient.upgrade(port)).client!;
    await ones.write(maskedFrame(1, encoder.encode("["), { fin: false }));
    const oneBytes = joinFrames(
      Array.from({ length: 4000 }, () => maskedFrame(0, encoder.encode("1"), { fin: false })),
    );
    await flood(ones, oneBytes, 1);
    await eventually("one-byte fragments closed", () => ones.closeCode === 1008, 5000);

    // Pongs are no message, but every frame counts: past 1,000 in 10 s, closed.
    const pongs = (await RawClient.upgrade(port)).client!;
    const twoHundredPongs = joinFrames(Array.from({ length: 200 }, () => maskedFrame(10, empty)));
    await flood(pongs, twoHundredPongs, 10);
    await eventually("a pong flood closed", () => pongs.closeCode === 1008, 5000);
    for (const client of [zeros, ones, pongs]) assert.deepEqual(client.texts(), []);

    // Their places come back without the clients closing anything themselves.
    await eventually(
      "the flooders' places given back",
      async () => await scrapeGauge(env, "gateway_sockets") === 0,
      5000,
    );
    // Meanwhile a message in 16 fragments is still a message.
    const pieces = (await RawClient.upgrade(port)).client!;
    const json = '{"type":"ping","pad":"..............."}';
    await pieces.write(joinFrames(
      [...json.slice(0, 16)].map((char, i) =>
        maskedFrame(i === 0 ? 1 : 0, encoder.encode(i === 15 ? char + json.slice(16) : char), {
          fin: i === 15,
        })
      ),
    ));
    await eventually("pong to 16 fragments", () => pieces.texts()[0]?.type === "pong", 3000);
    assert.equal(pieces.closeCode, undefined);
    for (const client of [zeros, ones, pongs, pieces]) client.close();
  });
});

Deno.test("auth by first message: authenticated, then orders; bad tokens keep the socket open", async () => {
  await withEnv({}, async (env) => {
    await env.startGateway();
    const userId = "user-auth-message";
    const token = await signToken(userId, JWT_SECRET, Date.now());
    const client = await WsClient.connect(wsUrl(env));

    client.send({ type: "subscribe", channels: ["orders"] });
    client.send({ type: "auth", token: "forged" });
    client.send({ type: "auth", token: await sign({ sub: userId, exp: 1 }, JWT_SECRET, "HS256") });
    // Sent without waiting: the subscribe must see the auth's outcome.
    client.send({ type: "auth", token });
    client.send({ type: "subscribe", channels: ["orders"] });
    await eventually("five replies", () => client.messages.length >= 5, 5000);
    assert.deepEqual(client.messages.map((m) => m.code ?? m.type), [
      "unauthorized",
      "unauthorized",
      "unauthorized",
      "authenticated",
      "subscribed",
    ]);
    assert.equal(client.messages[3]!.userId, userId);
    assert.equal(client.closeCode, undefined);

    // Another user's token on the same socket is refused.
    client.send({ type: "auth", token: await signToken("someone-else", JWT_SECRET, Date.now()) });
    await eventually("refused", () => client.messages.length >= 6, 5000);
    assert.equal(client.messages[5]!.code, "already_authenticated");

    // The user's order events now reach the socket.
    const closedAt = Date.now();
    await writeOutput(env, {
      kind: "event",
      cause: "0-1",
      userId,
      result: {
        event: "closed",
        orderId: "order-1",
        asset: "BTC",
        type: "long",
        margin: "10000",
        leverage: 10,
        openPrice: "97000",
        quantity: "0.01",
        liquidationPrice: "87785",
        openedAt: closedAt - 1000,
        closePrice: "87785",
        pnl: "-9215",
        balance: "490785",
        closedAt,
        reason: "liquidation",
      },
    });
    const order = await eventually("the order event", () => client.orders()[0], 5000);
    assert.equal(order.orderId, "order-1");
    assert.equal(order.reason, "liquidation");

    // ?token= on connect still works.
    const byQuery = await WsClient.connect(`${wsUrl(env)}?token=${token}`);
    byQuery.send({ type: "subscribe", channels: ["orders"] });
    await eventually(
      "subscribed",
      () => byQuery.messages.some((m) => m.type === "subscribed"),
      5000,
    );
    client.close();
    byQuery.close();
  });
});

Deno.test("an authenticated socket is closed with 4001 when its token expires", async () => {
  await withEnv({}, async (env) => {
    await env.startGateway();
    // Whole seconds: at least 2 s ahead, so the token is still valid when it is checked.
    const expSec = Math.floor(Date.now() / 1000) + 3;
    const token = await sign({ sub: "user-expiring", exp: expSec }, JWT_SECRET, "HS256");

    const byMessage = await WsClient.connect(wsUrl(env));
    byMessage.send({ type: "auth", token });
    byMessage.send({ type: "subscribe", channels: ["orders", "prices"] });
    const byQuery = await WsClient.connect(`${wsUrl(env)}?token=${token}`);
    byQuery.send({ type: "subscribe", channels: ["orders"] });
    const anonymous = await WsClient.connect(wsUrl(env));
    anonymous.send({ type: "subscribe", channels: ["prices"] });
    await eventually("subscribed", () => byMessage.messages.some((m) => m.type === "subscribed"));
    assert.equal(byMessage.closeCode, undefined);

    await eventually("closed at exp", () => byMessage.closeCode !== undefined, 6000);
    const closedAtMs = Date.now();
    assert.equal(byMessage.closeCode, 4001);
    assert.ok(closedAtMs >= expSec * 1000, "closed before the token expired");
    assert.ok(closedAtMs < expSec * 1000 + 1500, `closed ${closedAtMs - expSec * 1000} ms late`);
    await eventually("?token= socket closed", () => byQuery.closeCode === 4001, 2000);
    await sleep(300);
    assert.equal(anonymous.closeCode, undefined);
    anonymous.close();
  });
});

Deno.test("a client that stops reading is closed (1013) instead of growing the buffer", async () => {
  await withEnv({}, async (env) => {
    const gateway = await env.startGateway();
    const stalled = (await RawClient.upgrade(env.ports.gateway, { read: false })).client!;
    // Subscribe, then never read: the kernel's buffers fill, then the gateway's.
    await stalled.write(maskedFrame(1, text({ type: "subscribe", channels: ["prices"] })));
    await sleep(200);
    const quote = { kind: "price", cause: "0-1", asset: "BTC", bid: "97000.5", ask: "97001.5" };
    // ~100 bytes a price: 200,000 of them are far more than any socket buffers hold.
    for (let batch = 0; batch < 20; batch++) {
      const pipeline = env.redis.pipeline();
      for (let i = 0; i < 10_000; i++) {
        pipeline.xadd(
          PRICES_STREAM,
          "*",
          ...encodeOutput({ ...quote, ts: Date.now() } as EngineOutput),
        );
      }
      await pipeline.exec();
      if (await scrapeGauge(env, "gateway_slow_clients_closed_total") === 1) break;
    }
    await eventually(
      "closed as slow",
      async () => await scrapeGauge(env, "gateway_slow_clients_closed_total") === 1,
      20_000,
    );
    await eventually(
      "the socket released",
      async () => await scrapeGauge(env, "gateway_sockets") === 0,
      10_000,
    );
    // Closed at the default limit of 256 KiB waiting (a price's frame past it at most).
    const closing = gateway.output.map((line) => {
      try {
        return JSON.parse(line);
      } catch {
        return undefined;
      }
    }).find((entry) => entry?.msg === "closing a slow client");
    assert.ok(closing !== undefined, "no log of the slow close");
    assert.ok(closing.buffered > 256 * 1024, `closed at ${closing.buffered} bytes waiting`);
    assert.ok(closing.buffered <= 257 * 1024, `closed at ${closing.buffered} bytes waiting`);
    stalled.close();
  });
});

Deno.test("past the send budget across sockets, the one with the most waiting is closed (1013)", async () => {
  await withEnv({}, async (env) => {
    // Each socket may have 64 MiB waiting, all of them together 1 MiB.
    const budget = 1024 * 1024;
    const local = await inProcessGateway(env, {
      maxBufferedBytes: 64 * 1024 * 1024,
      maxBufferedBytesTotal: budget,
    });
    try {
      const { port, metricsPort } = local.gateway;
      const stalled = await Promise.all([1, 2].map(async () => {
        const client = (await RawClient.upgrade(port, { read: false })).client!;
        await client.write(maskedFrame(1, text({ type: "subscribe", channels: ["prices.BTC"] })));
        return client;
      }));
      // A reader of another asset's prices: never more than a frame waiting, never closed.
      const reader = await WsClient.connect(`ws://127.0.0.1:${port}/ws`);
      reader.send({ type: "subscribe", channels: ["prices.ETH"] });
      await eventually("subscribed", () => reader.messages.some((m) => m.type === "subscribed"));
      await eventually("both stalled subscribed", () => local.gateway.clients() === 3);
      await sleep(200);

      let peak = 0;
      for (let batch = 0; batch < 20; batch++) {
        await writePrices(env, "BTC", 10_000);
        peak = Math.max(peak, await scrapeMetric(metricsPort, "gateway_buffered_bytes") ?? 0);
        if (await scrapeMetric(metricsPort, "gateway_slow_clients_closed_total") === 2) break;
      }
      await eventually(
        "both stalled sockets closed as slow",
        async () => await scrapeMetric(metricsPort, "gateway_slow_clients_closed_total") === 2,
        20_000,
      );
      assert.ok(peak <= budget, `${peak} bytes waiting in all, over the budget of ${budget}`);
      const closes = local.logs.filter((line) => line.includes("send budget"));
      assert.equal(closes.length, 2, "closed for the budget, not their own limit");
      await eventually(
        "their places released",
        async () => await scrapeMetric(metricsPort, "gateway_sockets") === 1,
        10_000,
      );

      await writePrices(env, "ETH", 1);
      await eventually(
        "the reader still served",
        () => reader.messages.some((m) => m.type === "price"),
      );
      assert.equal(reader.closeCode, undefined);
      reader.close();
      for (const client of stalled) client.close();
    } finally {
      await local.close();
    }
  });
});

Deno.test("a half-sent upgrade is cut at the request timeout; past maxConnections, closed at once", async () => {
  await withEnv({}, async (env) => {
    const local = await inProcessGateway(env, { requestTimeoutMs: 500, maxConnections: 3 });
    try {
      const { port, metricsPort } = local.gateway;
      const started = Date.now();
      // Half an upgrade request, and a connection that sends nothing at all.
      const half = await Deno.connect({ hostname: "127.0.0.1", port });
      await half.write(encoder.encode("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"));
      const silent = await Deno.connect({ hostname: "127.0.0.1", port });
      const [halfEnded, silentEnded] = await Promise.all([
        endsWithin(half, 3000),
        endsWithin(silent, 3000),
      ]);
      assert.ok(halfEnded, "a half-sent upgrade held its connection for 3 s");
      assert.ok(silentEnded, "a silent connection held for 3 s");
      assert.ok(Date.now() - started >= 450, "cut before the timeout");
      assert.equal(await scrapeMetric(metricsPort, "gateway_sockets"), 0);
      half.close();
      silent.close();

      // Three TCP connections at most, upgraded ones included: the fourth is closed at once.
      const open = await Promise.all([1, 2, 3].map(async () => {
        const { status, client } = await RawClient.upgrade(port);
        assert.equal(status, 101);
        return client!;
      }));
      const fourth = await Deno.connect({ hostname: "127.0.0.1", port });
      assert.ok(await endsWithin(fourth, 1000), "a connection past maxConnections was kept");
      fourth.close();
      // A WebSocket closed, a connection can be made again.
      open[0]!.close();
      await eventually("a connection again", async () => {
        const attempt = await RawClient.upgrade(port).catch(() => undefined);
        attempt?.client?.close();
        return attempt?.status === 101;
      }, 5000);
      for (const client of open) client.close();
    } finally {
      await local.close();
    }
  });
});

Deno.test("a peer trickling a frame it never finishes is dropped after two heartbeats", async () => {
  await withEnv({}, async (env) => {
    const local = await inProcessGateway(env, { heartbeatMs: 300 });
    try {
      const { port, metricsPort } = local.gateway;
      // Deno's WebSocket answers the gateway's pings with pongs: whole frames.
      const answering = await WsClient.connect(`ws://127.0.0.1:${port}/ws`);
      const trickler = (await RawClient.upgrade(port)).client!;
      // A byte every 100 ms: bytes keep coming, a whole frame never does.
      const frame = maskedFrame(1, text({ type: "ping", pad: "x".repeat(100) }));
      for (let i = 0; i < 30 && !trickler.ended; i++) {
        await trickler.write(frame.subarray(i, i + 1)).catch(() => {});
        await sleep(100);
      }
      assert.ok(trickler.ended, "a peer that never finished a frame kept its socket for 3 s");
      assert.deepEqual(trickler.texts(), []);
      assert.equal(answering.closeCode, undefined, "a peer answering pings was dropped");
      await eventually(
        "the trickler's place released",
        async () => await scrapeMetric(metricsPort, "gateway_sockets") === 1,
        3000,
      );
      answering.close();
      trickler.close();
    } finally {
      await local.close();
    }
  });
});
