/**
 * WebSocket fuzz on the gateway: garbage, binary, huge frames and subscribe floods. Each
 * socket gets an error message or a close; the server stays healthy and keeps serving others.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { eventually, newUser, sleep, withEnv, WsClient } from "./harness.ts";

const MESSAGES = 2000;

Deno.test(`WebSocket fuzz: ${MESSAGES} hostile messages, floods and huge frames`, async () => {
  await withEnv({}, async (env) => {
    await env.startAll();
    const user = await newUser(env.api);
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
          "x".repeat(5000),
        ),
      ),
      { seed: 31, numRuns: MESSAGES },
    );
    let errors = 0;
    let closed = 0;
    for (let batch = 0; batch < garbage.length; batch += 50) {
      const client = await WsClient.connect(batch % 100 === 0 ? `${url}?token=${user.token}` : url);
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

    // A huge frame: refused with an error or a close, never buffered into the hub.
    const huge = await WsClient.connect(url);
    huge.send("[" + "1,".repeat(2_000_000) + "1]");
    await eventually(
      "the huge frame answered",
      () => huge.closeCode !== undefined || huge.messages.some((m) => m.type === "error"),
      5000,
    );

    // An invalid token is refused at the upgrade.
    const refused = await WsClient.connect(`${url}?token=forged`).then(() => false, () => true);
    assert.ok(refused, "a forged token was accepted");

    const seen = witness.messages.filter((m) => m.type === "price").length;
    await sleep(500);
    assert.ok(
      witness.messages.filter((m) => m.type === "price").length > seen,
      "prices stopped flowing",
    );
    assert.equal(witness.closeCode, undefined);
    const health = await fetch(`http://127.0.0.1:${env.ports.gateway}/health`).then((r) =>
      r.json()
    );
    assert.equal(health.status, "ok");
    witness.close();
    huge.close();
    console.log(
      `WebSocket fuzz: ${garbage.length} messages on ${
        garbage.length / 50
      } sockets, ${errors} error replies, ${closed} closes`,
    );
  });
});
