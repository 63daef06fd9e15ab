/**
 * TRUSTED_PROXIES against the real processes: behind a trusted proxy, each client named by
 * X-Forwarded-For has its own signup budget, signin buckets and WebSocket cap; from any other
 * peer, and on a process that trusts nobody (the default), the header changes nothing. The
 * test's own address, 127.0.0.1, plays the load balancer; 127.0.0.2 a client that writes the
 * header itself. Neither the API's signups and signins nor the gateway's upgrades need the
 * engine: only Redis and Postgres.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { type Env, freePort, withEnv } from "./harness.ts";

const PASSWORD = "correct horse battery";
/** Clients as the balancer would name them (documentation addresses, RFC 5737 / 3849). */
const ALICE = "203.0.113.1";
const BOB = "203.0.113.2";
const CAROL = "2001:db8:aaaa:1::7";

interface Caller {
  /** X-Forwarded-For, as a proxy would send it. */
  forwardedFor?: string;
  /** The local address the request comes from: 127.0.0.1 unless said. */
  from?: string;
}

/** POSTs JSON to the API; the status. */
async function post(base: string, path: string, body: unknown, caller: Caller = {}) {
  const client = caller.from === undefined
    ? undefined
    : Deno.createHttpClient({ localAddress: caller.from });
  try {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (caller.forwardedFor !== undefined) headers["x-forwarded-for"] = caller.forwardedFor;
    const response = await fetch(`${base}${path}`, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      client,
    } as RequestInit);
    await response.body?.cancel();
    return response.status;
  } finally {
    client?.close();
  }
}

const signup = (base: string, caller: Caller = {}) =>
  post(
    base,
    "/signup",
    { email: `u-${crypto.randomUUID()}@example.com`, password: PASSWORD },
    caller,
  );

/** The statuses of `n` signups, one after another. */
async function signups(base: string, n: number, caller: Caller): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) statuses.push(await signup(base, caller));
  return statuses;
}

/** A second API on its own ports (the harness's default ones go to the first). */
async function secondApi(env: Env, extraEnv: Record<string, string>): Promise<string> {
  const port = freePort();
  await env.startApi({ API_METRICS_PORT: String(freePort()), ...extraEnv }, port);
  return `http://127.0.0.1:${port}/api/v1`;
}

Deno.test("TRUSTED_PROXIES: the API's signup and signin limits count each forwarded client", async (t) => {
  await withEnv({}, async (env) => {
    // 2 signups a minute per client; the balancer is 127.0.0.1 for one API, nobody for the other.
    await env.startApi({ SIGNUP_RATE: "2", TRUSTED_PROXIES: "127.0.0.1" });
    const trusting = env.api;
    const plain = await secondApi(env, { SIGNUP_RATE: "2" });

    await t.step("behind the trusted proxy, each client has its own signup budget", async () => {
      assert.deepEqual(await signups(trusting, 3, { forwardedFor: ALICE }), [201, 201, 429]);
      // Another client behind the same proxy: its own budget, also through a chain of trusted
      // hops and with an entry it wrote itself (left of its own, never read).
      assert.equal(await signup(trusting, { forwardedFor: BOB }), 201);
      assert.equal(await signup(trusting, { forwardedFor: `${ALICE}, ${BOB}, 127.0.0.1` }), 201);
      assert.equal(await signup(trusting, { forwardedFor: BOB }), 429, "Bob's two are spent");
      // IPv6 clients, by their /64.
      assert.deepEqual(await signups(trusting, 2, { forwardedFor: CAROL }), [201, 201]);
      assert.equal(await signup(trusting, { forwardedFor: "2001:db8:aaaa:1::8" }), 429);
      assert.equal(await signup(trusting, { forwardedFor: "2001:db8:aaaa:2::7" }), 201);
      // The proxy's own requests (no header), and a malformed header: the proxy's address.
      assert.deepEqual(await signups(trusting, 2, {}), [201, 201]);
      assert.equal(await signup(trusting, { forwardedFor: "unknown" }), 429);
    });

    await t.step("from an untrusted peer the header is ignored: no address to pick", async () => {
      const spoofer = { from: "127.0.0.2" };
      assert.equal(await signup(trusting, { ...spoofer, forwardedFor: "198.51.100.1" }), 201);
      assert.equal(await signup(trusting, { ...spoofer, forwardedFor: "198.51.100.2" }), 201);
      assert.equal(await signup(trusting, { ...spoofer, forwardedFor: "198.51.100.3" }), 429);
      assert.equal(await signup(trusting, { ...spoofer, forwardedFor: "127.0.0.1" }), 429);
    });

    await t.step("without TRUSTED_PROXIES the header is ignored from anyone", async () => {
      assert.equal(await signup(plain, { forwardedFor: ALICE }), 201);
      assert.equal(await signup(plain, { forwardedFor: BOB }), 201);
      assert.equal(await signup(plain, { forwardedFor: CAROL }), 429, "all one peer: 127.0.0.1");
    });

    await t.step(
      "signin: wrong passwords from one forwarded client lock out no other",
      async () => {
        const email = `owner-${crypto.randomUUID()}@example.com`;
        assert.equal(
          await post(trusting, "/signup", { email, password: PASSWORD }, { from: "127.0.0.3" }),
          201,
        );
        const wrong = { email, password: "not the password" };
        const attempts = async (base: string, n: number, caller: Caller) => {
          const statuses: number[] = [];
          for (let i = 0; i < n; i++) statuses.push(await post(base, "/signin", wrong, caller));
          return statuses;
        };
        // 10 a minute per (email, client): the 11th from Alice is refused, Bob's first is not.
        assert.deepEqual(await attempts(trusting, 11, { forwardedFor: ALICE }), [
          ...Array(10).fill(401),
          429,
        ]);
        assert.deepEqual(await attempts(trusting, 1, { forwardedFor: BOB }), [401]);
        assert.equal(
          await post(trusting, "/signin", { email, password: PASSWORD }, { forwardedFor: CAROL }),
          200,
        );
        // Trusting nobody, Alice and Bob are one address (127.0.0.1): Bob is refused with her.
        assert.deepEqual(await attempts(plain, 10, { forwardedFor: ALICE }), Array(10).fill(401));
        assert.deepEqual(await attempts(plain, 1, { forwardedFor: BOB }), [429]);
      },
    );
  });
});

/** Opens a WebSocket upgrade on a raw connection; its status, and the socket (kept open). */
async function upgrade(
  port: number,
  caller: Caller = {},
): Promise<{ status: number; socket: net.Socket }> {
  const socket = net.connect({ host: "127.0.0.1", port, localAddress: caller.from ?? "127.0.0.1" });
  socket.on("error", () => {});
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  const forwarded = caller.forwardedFor === undefined
    ? ""
    : `X-Forwarded-For: ${caller.forwardedFor}\r\n`;
  socket.write(
    `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
      `${forwarded}\r\n`,
  );
  const head = await new Promise<string>((resolve, reject) => {
    let text = "";
    const onData = (chunk: Uint8Array) => {
      text += new TextDecoder().decode(chunk);
      if (text.includes("\r\n\r\n")) {
        socket.off("data", onData);
        resolve(text);
      }
    };
    socket.on("data", onData);
    socket.once("close", () => reject(new Error(`closed before an answer: ${text}`)));
  });
  return { status: Number(head.slice(9, 12)), socket };
}

Deno.test("TRUSTED_PROXIES: the gateway's WS_MAX_PER_IP counts each forwarded client", async (t) => {
  await withEnv({}, async (env) => {
    await env.startGateway({ WS_MAX_PER_IP: "2", TRUSTED_PROXIES: "127.0.0.1" });
    const trusting = env.ports.gateway;
    const plain = freePort();
    await env.startGateway({
      WS_MAX_PER_IP: "2",
      GATEWAY_PORT: String(plain),
      GATEWAY_METRICS_PORT: String(freePort()),
    });
    const held: net.Socket[] = [];
    /** The statuses of upgrades one after another; the sockets stay open. */
    const upgrades = async (port: number, n: number, caller: Caller) => {
      const statuses: number[] = [];
      for (let i = 0; i < n; i++) {
        const { status, socket } = await upgrade(port, caller);
        held.push(socket);
        statuses.push(status);
      }
      return statuses;
    };
    try {
      await t.step("behind the trusted proxy, each client has its own cap", async () => {
        assert.deepEqual(await upgrades(trusting, 3, { forwardedFor: ALICE }), [101, 101, 429]);
        assert.deepEqual(await upgrades(trusting, 2, { forwardedFor: BOB }), [101, 101]);
        assert.deepEqual(
          await upgrades(trusting, 1, { forwardedFor: `${ALICE}, ${BOB}, 127.0.0.1` }),
          [429],
          "Bob through a chain of trusted hops, his own entry left of it ignored",
        );
        assert.deepEqual(await upgrades(trusting, 3, { forwardedFor: CAROL }), [101, 101, 429]);
        // The proxy itself (no header): its own count, not any client's.
        assert.deepEqual(await upgrades(trusting, 2, {}), [101, 101]);
      });

      await t.step("from an untrusted peer the header is ignored", async () => {
        const from = "127.0.0.2";
        assert.deepEqual(await upgrades(trusting, 1, { from, forwardedFor: "198.51.100.1" }), [
          101,
        ]);
        assert.deepEqual(await upgrades(trusting, 1, { from, forwardedFor: "198.51.100.2" }), [
          101,
        ]);
        assert.deepEqual(await upgrades(trusting, 1, { from, forwardedFor: "198.51.100.3" }), [
          429,
        ]);
      });

      await t.step("without TRUSTED_PROXIES the header is ignored from anyone", async () => {
        assert.deepEqual(await upgrades(plain, 1, { forwardedFor: ALICE }), [101]);
        assert.deepEqual(await upgrades(plain, 1, { forwardedFor: BOB }), [101]);
        assert.deepEqual(await upgrades(plain, 1, { forwardedFor: CAROL }), [429]);
      });
    } finally {
      for (const socket of held) socket.destroy();
    }
  });
});
