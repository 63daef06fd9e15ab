/**
 * WebSocket fuzz on the gateway: garbage, binary, huge frames, subscribe floods, raw bytes
 * that break the framing itself, and well-formed runs of fragments and control frames. Each socket gets an error message or a close; the server stays
 * healthy and keeps serving others. The gateway alone, with prices written to engine:output
 * here as the engine would: what is under test is the gateway's handling of its clients.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { signToken } from "@trading/shared/jwt";
import { PRICES_STREAM } from "@trading/shared/redis";
import { encodeOutput } from "@trading/shared/schemas";
import { type Env, eventually, JWT_SECRET, sleep, withEnv, WsClient } from "./harness.ts";

const MESSAGES = 2000;
const RAW_STREAMS = 400;

/** Writes a BTC price to the prices stream every 100 ms until the returned stop is called. */
function pumpPrices(env: Env): () => Promise<void> {
  let running = true;
  const done = (async () => {
    for (let i = 0; running; i++) {
      const bid = String(97_000 + (i % 100));
      await env.redis.xadd(
        PRICES_STREAM,
        "*",
        ...encodeOutput({
          kind: "price",
          cause: "0-1",
          asset: "BTC",
          bid,
          ask: bid,
          ts: Date.now(),
        }),
      );
      await sleep(100);
    }
  })();
  return async () => {
    running = false;
    await done;
  };
}

/** Prices keep reaching the witness, which is still open, and /health answers ok. */
async function assertServing(env: Env, witness: WsClient): Promise<void> {
  const seen = witness.messages.filter((m) => m.type === "price").length;
  await sleep(500);
  assert.ok(
    witness.messages.filter((m) => m.type === "price").length > seen,
    "prices stopped flowing",
  );
  assert.equal(witness.closeCode, undefined);
  const health = await fetch(`http://127.0.0.1:${env.ports.gateway}/health`).then((r) => r.json());
  assert.equal(health.status, "ok");
}

Deno.test(`WebSocket fuzz: ${MESSAGES} hostile messages, floods and huge frames`, async () => {
  await withEnv({}, async (env) => {
    await env.startGateway();
    const stopPrices = pumpPrices(env);
    const token = await signToken("fuzz-user", JWT_SECRET, Date.now());
    const url = `ws://127.0.0.1:${env.ports.gateway}/ws`;

    // A well-behaved client that must keep receiving prices throughout.
    const witness = await WsClient.connect(url);
    witness.send({ type: "subscribe", channels: ["prices"] });

    const garbage = fc.sample(
      fc.oneof(
        fc.string({ maxLength: 100 }),
        fc.json(),
        fc.constantFrom(
          "",
          "{}",
          "null",
          '{"type":"subscribe","channels":["orders"]}',
          '{"type":"subscribe","channels":["prices.DOGE","prices"]}',
          '{"type":"unsubscribe","channels":[1,2,3]}',
          '{"type":"ping","channels":{"__proto__":{"x":1}}}',
          '{"type":"auth","token":"forged"}',
          '{"type":"auth","token":{"sub":"x"}}',
          '{"type":"auth"}',
        ),
      ),
      { seed: 31, numRuns: MESSAGES },
    );
    let errors = 0;
    let closed = 0;
    for (let batch = 0; batch < garbage.length; batch += 50) {
      const client = await WsClient.connect(batch % 100 === 0 ? `${url}?token=${token}` : url);
      for (const message of garbage.slice(batch, batch + 50)) client.send(message);
      client.socket.send(new Uint8Array([0, 1, 2, 255]));
      await eventually(
        "replies",
        () => client.messages.length >= 40 || client.closeCode !== undefined,
        5000,
      );
      errors += client.messages.filter((m) => m.type === "error").length;
      if (client.closeCode !== undefined) closed++;
      client.close();
    }
    assert.ok(errors > MESSAGES / 4, `only ${errors} error replies`);

    // A flood of subscribes: closed rather than served without limit.
    const flooder = await WsClient.connect(url);
    for (let i = 0; i < 500; i++) flooder.send({ type: "subscribe", channels: ["prices"] });
    // The server closes it with 1008; a client still writing may only see the connection drop.
    await eventually("the flooder closed", () => flooder.closeCode !== undefined, 5000);

    // A huge frame: closed with 1009 (tests/gateway_limits_test.ts shows it is never read).
    const huge = await WsClient.connect(url);
    huge.send("[" + "1,".repeat(2_000_000) + "1]");
    await eventually("the huge frame refused", () => huge.closeCode === 1009, 5000);

    // An invalid token is refused at the upgrade.
    const refused = await WsClient.connect(`${url}?token=forged`).then(() => false, () => true);
    assert.ok(refused, "a forged token was accepted");

    await assertServing(env, witness);
    witness.close();
    huge.close();
    console.log(
      `WebSocket fuzz: ${garbage.length} messages on ${
        garbage.length / 50
      } sockets, ${errors} error replies, ${closed} closes`,
    );
    await stopPrices();
  });
});

/** Opens a TCP connection and completes the WebSocket handshake by hand. */
async function rawUpgrade(port: number): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(
    "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  ));
  let head = "";
  const chunk = new Uint8Array(4096);
  while (!head.includes("\r\n\r\n")) {
    const n = await conn.read(chunk);
    if (n === null) throw new Error("closed during the handshake");
    head += new TextDecoder().decode(chunk.subarray(0, n));
  }
  assert.match(head, /^HTTP\/1.1 101/);
  return conn;
}

/** A frame header with any bits (opcode, RSV, mask, length form), then a few payload bytes. */
const hostileFrame = fc.record({
  first: fc.integer({ min: 0, max: 255 }),
  second: fc.integer({ min: 0, max: 255 }),
  extended: fc.uint8Array({ minLength: 0, maxLength: 8 }),
  mask: fc.uint8Array({ minLength: 4, maxLength: 4 }),
  payload: fc.uint8Array({ maxLength: 200 }),
}).map(({ first, second, extended, mask, payload }) =>
  new Uint8Array([first, second, ...extended, ...mask, ...payload])
);

/** A masked frame: a fragment (FIN clear), a final one, or a control frame, of a few bytes. */
const maskedFrame = fc.record({
  fin: fc.boolean(),
  opcode: fc.constantFrom(0x0, 0x0, 0x0, 0x1, 0x2, 0x9, 0xa),
  mask: fc.uint8Array({ minLength: 4, maxLength: 4 }),
  payload: fc.uint8Array({ maxLength: 4 }),
}).map(({ fin, opcode, mask, payload }) =>
  new Uint8Array([
    (fin || opcode >= 0x8 ? 0x80 : 0) | opcode,
    0x80 | payload.length,
    ...mask,
    ...payload.map((byte, i) => byte ^ mask[i % 4]!),
  ])
);

/** A message begun and continued in up to 60 small frames, control frames between them. */
const fragmentRun = fc.tuple(
  fc.constantFrom(0x1, 0x2),
  fc.array(maskedFrame, { maxLength: 60 }),
).map(([opcode, frames]) => {
  const first = new Uint8Array([opcode, 0x80, 0, 0, 0, 0]); // FIN clear, empty, zero mask
  const run = new Uint8Array(first.length + frames.reduce((n, f) => n + f.length, 0));
  run.set(first);
  frames.reduce((at, f) => (run.set(f, at), at + f.length), first.length);
  return run;
});

Deno.test(`WebSocket fuzz: ${RAW_STREAMS} streams of hostile frames and raw bytes`, async () => {
  await withEnv({}, async (env) => {
    const gateway = await env.startGateway();
    const stopPrices = pumpPrices(env);
    const witness = await WsClient.connect(`ws://127.0.0.1:${env.ports.gateway}/ws`);
    witness.send({ type: "subscribe", channels: ["prices"] });
    const streams = fc.sample(
      fc.array(fc.oneof(hostileFrame, fc.uint8Array({ maxLength: 300 }), fragmentRun), {
        minLength: 1,
        maxLength: 6,
      }),
      { seed: 47, numRuns: RAW_STREAMS },
    );
    for (let batch = 0; batch < streams.length; batch += 20) {
      await Promise.all(
        streams.slice(batch, batch + 20).map(async (pieces) => {
          const conn = await rawUpgrade(env.ports.gateway);
          try {
            for (const piece of pieces) await conn.write(piece);
            await sleep(20);
          } catch {
            // the server closed it: one of the answers we expect
          } finally {
            conn.close();
          }
        }),
      );
    }
    await assertServing(env, witness);
    const exited = await Promise.race([
      gateway.child.status.then(() => true),
      sleep(10).then(() => false),
    ]);
    assert.equal(exited, false, "the gateway exited");
    // Counted from upgrade to close: only the witness's place is still held.
    await eventually("every raw socket released", async () => {
      const metrics = await fetch(`http://127.0.0.1:${env.ports.gatewayMetrics}/metrics`).then((
        r,
      ) => r.text());
      return /^gateway_sockets 1$/m.test(metrics);
    }, 10_000);
    witness.close();
    await stopPrices();
  });
});
