import assert from "node:assert/strict";
import fc from "fast-check";
import {
  acceptKey,
  checkHandshake,
  closeFrame,
  type FrameEvent,
  FrameReader,
  serverFrame,
  textFrame,
} from "./ws_frames.ts";

const encoder = new TextEncoder();

/** A masked client frame; `declaredLength` may claim more payload than follows. */
function clientFrame(
  opcode: number,
  payload: Uint8Array,
  options: { fin?: boolean; declaredLength?: number; masked?: boolean; rsv?: number } = {},
): Uint8Array {
  const length = options.declaredLength ?? payload.length;
  const extended = length < 126 ? 0 : length < 65_536 ? 2 : 8;
  const masked = options.masked !== false;
  const frame = new Uint8Array(2 + extended + (masked ? 4 : 0) + payload.length);
  frame[0] = (options.fin === false ? 0 : 0x80) | (options.rsv ?? 0) << 4 | opcode;
  const maskBit = masked ? 0x80 : 0;
  if (extended === 0) frame[1] = maskBit | length;
  else if (extended === 2) {
    frame[1] = maskBit | 126;
    frame[2] = length >> 8;
    frame[3] = length & 0xff;
  } else {
    frame[1] = maskBit | 127;
    new DataView(frame.buffer).setBigUint64(2, BigInt(length));
  }
  const mask = masked ? crypto.getRandomValues(new Uint8Array(4)) : new Uint8Array(4);
  if (masked) frame.set(mask, 2 + extended);
  const start = 2 + extended + (masked ? 4 : 0);
  for (let i = 0; i < payload.length; i++) frame[start + i] = payload[i]! ^ mask[i % 4]!;
  return frame;
}

function read(reader: FrameReader, ...chunks: Uint8Array[]): FrameEvent[] {
  const events: FrameEvent[] = [];
  for (const chunk of chunks) reader.push(chunk, (event) => events.push(event));
  return events;
}

const failCode = (events: FrameEvent[]) => {
  const last = events.at(-1);
  return last?.kind === "fail" ? last.code : undefined;
};

Deno.test("a frame declared over the limit fails with 1009 from its header alone", () => {
  const reader = new FrameReader(4096);
  const header = clientFrame(1, new Uint8Array(0), { declaredLength: 2 * 1024 * 1024 });
  const events = read(reader, header);
  assert.equal(failCode(events), 1009);
  assert.equal(reader.done, true);
  // Whatever follows is dropped, not kept.
  assert.deepEqual(read(reader, new Uint8Array(64 * 1024)), []);
  assert.equal(reader.bufferedBytes, 0);
  // Exactly the limit is a message; one byte more is not.
  assert.deepEqual(read(new FrameReader(4096), clientFrame(1, encoder.encode("x".repeat(4096)))), [
    { kind: "text", text: "x".repeat(4096) },
  ]);
  assert.equal(
    failCode(read(new FrameReader(4096), clientFrame(1, new Uint8Array(4097)).subarray(0, 8))),
    1009,
  );
});

Deno.test("fragments are joined, interleaved pings answered, and their total is capped", () => {
  const reader = new FrameReader(10);
  const events = read(
    reader,
    clientFrame(1, encoder.encode("ab"), { fin: false }),
    clientFrame(9, encoder.encode("p")),
    clientFrame(0, encoder.encode("cd"), { fin: false }),
    clientFrame(0, encoder.encode("e")),
  );
  assert.deepEqual(events, [
    { kind: "fragment" },
    { kind: "ping", payload: encoder.encode("p") },
    { kind: "fragment" },
    { kind: "text", text: "abcde" },
  ]);
  const over = new FrameReader(10);
  const parts = read(
    over,
    clientFrame(1, new Uint8Array(6), { fin: false }),
    clientFrame(0, new Uint8Array(0), { fin: false, declaredLength: 5 }),
  );
  assert.equal(failCode(parts), 1009);
});

Deno.test("a message is at most 16 frames: empty or one-byte fragments fail with 1008", () => {
  const continuations = (count: number, payload: Uint8Array) =>
    Array.from({ length: count }, () => clientFrame(0, payload, { fin: false }));
  // 16 frames in all (the first, 14 continuations, the last) make a message.
  const sixteen = new FrameReader(4096);
  const whole = read(
    sixteen,
    clientFrame(1, encoder.encode("a"), { fin: false }),
    ...continuations(14, encoder.encode("b")),
    clientFrame(0, encoder.encode("c")),
  );
  assert.equal(whole.length, 16, "one event a frame");
  assert.deepEqual(whole.at(-1), { kind: "text", text: `a${"b".repeat(14)}c` });
  assert.equal(sixteen.bufferedBytes, 0, "the message buffer is let go once the message is whole");
  // The 17th frame fails, judged by its header: empty frames count as much as full ones.
  for (const payload of [new Uint8Array(0), encoder.encode("x")]) {
    const reader = new FrameReader(4096);
    const events = read(
      reader,
      clientFrame(1, payload, { fin: false }),
      ...continuations(15, payload),
      clientFrame(0, payload, { fin: false, declaredLength: 1 }).subarray(0, 6),
    );
    assert.equal(events.length, 17);
    assert.equal(failCode(events), 1008, `${payload.length}-byte fragments`);
    assert.equal(reader.done, true);
    assert.equal(reader.bufferedBytes, 0);
  }
});

Deno.test("fragments are copied into one buffer of at most the limit, held only per message", () => {
  const reader = new FrameReader(4096);
  let peak = 0;
  const push = (frame: Uint8Array) => {
    const events = read(reader, frame);
    peak = Math.max(peak, reader.bufferedBytes);
    return events;
  };
  push(clientFrame(1, encoder.encode("["), { fin: false }));
  for (let i = 0; i < 14; i++) {
    push(clientFrame(0, encoder.encode("1,".repeat(145)), { fin: false }));
  }
  const last = push(clientFrame(0, encoder.encode("1]")));
  const message = last[0];
  assert.equal(last.length, 1);
  assert.equal(message?.kind === "text" && JSON.parse(message.text).length, 14 * 145 + 1);
  assert.ok(peak <= 4096, `held ${peak} bytes for a 4 KiB message`);
  assert.equal(reader.bufferedBytes, 0);
  // A partial frame and a message so far: together under twice the limit plus a header.
  const partial = new FrameReader(4096);
  read(partial, clientFrame(1, new Uint8Array(4000), { fin: false }));
  read(partial, clientFrame(0, new Uint8Array(96)).subarray(0, 60));
  assert.ok(partial.bufferedBytes <= 2 * 4096 + 14, `${partial.bufferedBytes}`);
});

Deno.test("protocol violations fail with 1002, bad UTF-8 with 1007", () => {
  const cases: Array<[string, Uint8Array, number]> = [
    ["unmasked", clientFrame(1, encoder.encode("hi"), { masked: false }), 1002],
    ["reserved bits", clientFrame(1, encoder.encode("hi"), { rsv: 4 }), 1002],
    ["unknown data opcode", clientFrame(3, encoder.encode("hi")), 1002],
    ["unknown control opcode", clientFrame(0xb, encoder.encode("hi")), 1002],
    ["long control frame", clientFrame(9, new Uint8Array(126)), 1002],
    ["fragmented control frame", clientFrame(9, new Uint8Array(1), { fin: false }), 1002],
    ["continuation of nothing", clientFrame(0, encoder.encode("hi")), 1002],
    ["invalid UTF-8", clientFrame(1, new Uint8Array([0xc3, 0x28])), 1007],
    ["one-byte close", clientFrame(8, new Uint8Array([3])), 1002],
    ["close code 1005", clientFrame(8, new Uint8Array([0x03, 0xed])), 1002],
    ["close reason not UTF-8", clientFrame(8, new Uint8Array([0x03, 0xe8, 0xff])), 1007],
  ];
  for (const [name, frame, code] of cases) {
    assert.equal(failCode(read(new FrameReader(4096), frame)), code, name);
  }
  const interleaved = read(
    new FrameReader(4096),
    clientFrame(1, encoder.encode("a"), { fin: false }),
    clientFrame(1, encoder.encode("b")),
  );
  assert.equal(failCode(interleaved), 1002);
});

Deno.test("close frames give their code; nothing is read after them", () => {
  const reader = new FrameReader(4096);
  const events = read(
    reader,
    clientFrame(8, new Uint8Array([0x0f, 0xa1, 0x68, 0x69])),
    clientFrame(1, encoder.encode("late")),
  );
  assert.deepEqual(events, [{ kind: "close", code: 4001 }]);
  assert.deepEqual(read(new FrameReader(4096), clientFrame(8, new Uint8Array(0))), [
    { kind: "close", code: undefined },
  ]);
});

Deno.test("any split of a stream of messages reads back the same messages", () => {
  const message = fc.oneof(
    fc.string({ maxLength: 300 }).map((text) => ({ kind: "text" as const, text })),
    fc.uint8Array({ maxLength: 200 }).map((bytes) => ({ kind: "binary" as const, bytes })),
  );
  fc.assert(
    fc.property(
      fc.array(fc.tuple(message, fc.integer({ min: 1, max: 3 })), { maxLength: 20 }),
      fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 10 }),
      (messages, cuts) => {
        const frames: Uint8Array[] = [];
        for (const [m, pieces] of messages) {
          const payload = m.kind === "text" ? encoder.encode(m.text) : m.bytes;
          const step = Math.ceil(payload.length / pieces) || 1;
          for (let at = 0, first = true; first || at < payload.length; at += step, first = false) {
            const last = at + step >= payload.length;
            frames.push(clientFrame(
              first ? (m.kind === "text" ? 1 : 2) : 0,
              payload.subarray(at, at + step),
              { fin: last },
            ));
          }
        }
        const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
        frames.reduce((at, f) => (stream.set(f, at), at + f.length), 0);
        const reader = new FrameReader(4096);
        const events: FrameEvent[] = [];
        for (let at = 0, i = 0; at < stream.length; i++) {
          const size = cuts[i % cuts.length]!;
          reader.push(stream.slice(at, at + size), (event) => events.push(event));
          at += size;
        }
        assert.equal(events.length, frames.length, "one event a frame");
        assert.deepEqual(
          events.filter((event) => event.kind !== "fragment"),
          messages.map(([m]) => m.kind === "text" ? m : { kind: "binary", bytes: m.bytes.length }),
        );
        assert.equal(reader.bufferedBytes, 0);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("server frames use the shortest length form; close reasons fit a control frame", () => {
  for (const [length, header] of [[125, 2], [126, 4], [65_535, 4], [65_536, 10]] as const) {
    const frame = serverFrame(2, new Uint8Array(length));
    assert.equal(frame.length, header + length, String(length));
    assert.equal(frame[0], 0x82);
  }
  assert.deepEqual([...textFrame("hi")], [0x81, 2, 0x68, 0x69]);
  const close = closeFrame(1009, "é".repeat(100));
  assert.equal(close[1], 2 + 122); // 61 whole "é", not half of the 62nd
  assert.equal((close[2]! << 8) | close[3]!, 1009);
  new TextDecoder("utf-8", { fatal: true }).decode(close.subarray(4));
});

Deno.test("the handshake: RFC 6455's example key, and refusals", () => {
  assert.equal(acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  const good = {
    upgrade: "websocket",
    "sec-websocket-version": "13",
    "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
  };
  assert.deepEqual(checkHandshake("GET", good), {
    ok: true,
    accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
  });
  const status = (method: string, headers: Record<string, string>) => {
    const result = checkHandshake(method, headers);
    return result.ok ? 101 : result.status;
  };
  assert.equal(status("POST", good), 400);
  assert.equal(status("GET", { ...good, upgrade: "h2c" }), 426);
  assert.equal(status("GET", { ...good, "sec-websocket-version": "8" }), 426);
  assert.equal(status("GET", { ...good, "sec-websocket-key": "short" }), 400);
});
