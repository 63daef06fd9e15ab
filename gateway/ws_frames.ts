/**
 * The server side of RFC 6455 framing, pure (bytes in, events out), so the gateway can refuse a
 * frame by the length its header declares, before any of its payload is read. Deno's
 * `Deno.upgradeWebSocket` reads every message whole (up to fastwebsockets' 64 MiB default)
 * before JavaScript sees it, and offers no option to lower that.
 */
import { createHash } from "node:crypto";

export const OPCODE = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

/** The close codes the gateway sends (RFC 6455 7.4.1, and 4001 of our own). */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  invalidData: 1007,
  policy: 1008,
  tooBig: 1009,
  tryAgainLater: 1013,
  tokenExpired: 4001,
} as const;

/**
 * What the reader makes of the client's bytes: one event for every frame read (a whole message,
 * a fragment of one not yet whole, a control frame), or a failure.
 */
export type FrameEvent =
  | { kind: "text"; text: string }
  | { kind: "binary"; bytes: number }
  | { kind: "fragment" }
  | { kind: "ping"; payload: Uint8Array }
  | { kind: "pong" }
  | { kind: "close"; code: number | undefined }
  | { kind: "fail"; code: number; reason: string };

/** Control frames carry at most 125 payload bytes (RFC 6455 5.5). */
const MAX_CONTROL_BYTES = 125;
/**
 * Frames one message may be split into; a frame past it fails with 1008 (a policy: the message
 * may be small, so 1009 would mislead). Without a cap, empty fragments cost nothing against the
 * byte limit and a message could go on for ever.
 */
export const MAX_FRAGMENTS = 16;
const EMPTY = new Uint8Array(0);

interface Header {
  fin: boolean;
  opcode: number;
  length: number;
  headerBytes: number;
}

/**
 * Parses masked client frames. Holds at most one partial frame (its header of at most 14
 * bytes, and at most `maxMessageBytes` of payload) and one fragmented message's bytes so far,
 * copied into a single buffer that grows to at most `maxMessageBytes` and is let go when the
 * message is whole. A frame that would take a message past the limit fails with 1009, and one
 * past `maxFragments` frames with 1008, as soon as its header is read. Every frame read gives
 * exactly one event (a fragment too), so the caller can count frames. After a close or a
 * failure it ignores whatever else arrives.
 */
export class FrameReader {
  #pending: Uint8Array = EMPTY;
  /** The fragmented message so far: its first `#messageBytes` bytes. */
  #message: Uint8Array = EMPTY;
  #messageBytes = 0;
  /** Frames of the fragmented message read so far. */
  #fragments = 0;
  /** The opcode of the message being reassembled from fragments, if any. */
  #fragmentOpcode: number | undefined;
  #done = false;
  readonly #utf8 = new TextDecoder("utf-8", { fatal: true });

  constructor(readonly maxMessageBytes: number, readonly maxFragments: number = MAX_FRAGMENTS) {}

  get done(): boolean {
    return this.#done;
  }

  /** Bytes held for a frame or a message not yet whole: at most twice the limit and a header. */
  get bufferedBytes(): number {
    return this.#pending.length + this.#message.length;
  }

  push(chunk: Uint8Array, onEvent: (event: FrameEvent) => void): void {
    if (this.#done) return;
    let bytes = this.#pending.length === 0 ? chunk : concat(this.#pending, chunk);
    let offset = 0;
    while (!this.#done) {
      const header = readHeader(bytes, offset);
      if (header === undefined) break;
      const problem = this.#check(header);
      if (problem !== undefined) {
        this.#finish(onEvent, problem);
        return;
      }
      const end = offset + header.headerBytes + header.length;
      if (end > bytes.length) break;
      const mask = bytes.subarray(offset + header.headerBytes - 4, offset + header.headerBytes);
      const event = this.#frame(header, bytes.subarray(offset + header.headerBytes, end), mask);
      offset = end;
      if (event.kind === "close" || event.kind === "fail") this.#done = true;
      onEvent(event);
    }
    if (this.#done) {
      this.#release();
      return;
    }
    // Copy the remainder so a large chunk is not kept alive for a few bytes of it.
    if (offset === bytes.length) bytes = EMPTY;
    else if (offset > 0 || bytes === chunk) bytes = bytes.slice(offset);
    this.#pending = bytes;
  }

  /** Rules a frame breaks, judged by its header alone. */
  #check(header: Header): FrameEvent | undefined {
    const { opcode, fin, length } = header;
    if (opcode === -1) return fail(CLOSE.protocolError, "frames from a client are masked");
    if (opcode === -2) return fail(CLOSE.protocolError, "no extension was negotiated");
    if (opcode >= 0x8) {
      if (opcode > OPCODE.pong) return fail(CLOSE.protocolError, "unknown opcode");
      if (!fin || length > MAX_CONTROL_BYTES) {
        return fail(CLOSE.protocolError, "control frames are whole and short");
      }
      return undefined;
    }
    if (opcode > OPCODE.binary) return fail(CLOSE.protocolError, "unknown opcode");
    if (opcode === OPCODE.continuation && this.#fragmentOpcode === undefined) {
      return fail(CLOSE.protocolError, "a continuation of nothing");
    }
    if (opcode !== OPCODE.continuation && this.#fragmentOpcode !== undefined) {
      return fail(CLOSE.protocolError, "a new message inside a fragmented one");
    }
    if (this.#messageBytes + length > this.maxMessageBytes) {
      return fail(CLOSE.tooBig, `messages are at most ${this.maxMessageBytes} bytes`);
    }
    if (opcode === OPCODE.continuation && this.#fragments >= this.maxFragments) {
      return fail(CLOSE.policy, `a message is at most ${this.maxFragments} frames`);
    }
    return undefined;
  }

  /** A whole frame whose header passed #check; `masked` is its payload as sent. */
  #frame(header: Header, masked: Uint8Array, mask: Uint8Array): FrameEvent {
    switch (header.opcode) {
      case OPCODE.ping:
        return { kind: "ping", payload: unmask(masked, mask, new Uint8Array(masked.length), 0) };
      case OPCODE.pong:
        return { kind: "pong" };
      case OPCODE.close:
        return this.#close(unmask(masked, mask, new Uint8Array(masked.length), 0));
    }
    let opcode = header.opcode;
    let message: Uint8Array;
    if (opcode === OPCODE.continuation || !header.fin) {
      // A fragment: its bytes are copied into the one message buffer, nothing kept per frame.
      this.#fragmentOpcode ??= opcode;
      this.#fragments++;
      this.#reserve(this.#messageBytes + masked.length);
      unmask(masked, mask, this.#message, this.#messageBytes);
      this.#messageBytes += masked.length;
      if (!header.fin) return { kind: "fragment" };
      opcode = this.#fragmentOpcode;
      message = this.#message.subarray(0, this.#messageBytes);
      this.#endMessage();
    } else {
      message = unmask(masked, mask, new Uint8Array(masked.length), 0);
    }
    if (opcode === OPCODE.binary) return { kind: "binary", bytes: message.length };
    try {
      return { kind: "text", text: this.#utf8.decode(message) };
    } catch {
      return fail(CLOSE.invalidData, "text frames are UTF-8");
    }
  }

  /** Grows the message buffer to hold `bytes` (at most maxMessageBytes, which #check ensures). */
  #reserve(bytes: number): void {
    if (bytes <= this.#message.length) return;
    const capacity = Math.min(this.maxMessageBytes, Math.max(bytes, 2 * this.#message.length, 256));
    const grown = new Uint8Array(capacity);
    grown.set(this.#message.subarray(0, this.#messageBytes));
    this.#message = grown;
  }

  /** Forgets the fragmented message (its bytes already decoded, or no longer wanted). */
  #endMessage(): void {
    this.#message = EMPTY;
    this.#messageBytes = 0;
    this.#fragments = 0;
    this.#fragmentOpcode = undefined;
  }

  #release(): void {
    this.#pending = EMPTY;
    this.#endMessage();
  }

  #close(payload: Uint8Array): FrameEvent {
    if (payload.length === 0) return { kind: "close", code: undefined };
    if (payload.length === 1) return fail(CLOSE.protocolError, "a close code is two bytes");
    const code = (payload[0]! << 8) | payload[1]!;
    if (!isValidCloseCode(code)) return fail(CLOSE.protocolError, "invalid close code");
    try {
      this.#utf8.decode(payload.subarray(2));
    } catch {
      return fail(CLOSE.invalidData, "a close reason is UTF-8");
    }
    return { kind: "close", code };
  }

  #finish(onEvent: (event: FrameEvent) => void, event: FrameEvent): void {
    this.#done = true;
    this.#release();
    onEvent(event);
  }
}

/**
 * A frame's header at `offset`, or undefined until all of it has arrived. An opcode of -1
 * marks an unmasked frame and -2 reserved bits set, so that #check refuses them.
 */
function readHeader(bytes: Uint8Array, offset: number): Header | undefined {
  const available = bytes.length - offset;
  if (available < 2) return undefined;
  const first = bytes[offset]!;
  const second = bytes[offset + 1]!;
  const fin = (first & 0x80) !== 0;
  let opcode = first & 0x0f;
  if ((first & 0x70) !== 0) opcode = -2;
  else if ((second & 0x80) === 0) opcode = -1;
  let length = second & 0x7f;
  let headerBytes = 2 + 4;
  if (length === 126) {
    if (available < 4) return undefined;
    length = (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
    headerBytes += 2;
  } else if (length === 127) {
    if (available < 10) return undefined;
    const view = new DataView(bytes.buffer, bytes.byteOffset + offset + 2, 8);
    // Anything at or above 2^53 is as refused as 2^53 itself: keep it a safe number.
    length = Math.min(Number(view.getBigUint64(0)), Number.MAX_SAFE_INTEGER);
    headerBytes += 8;
  }
  if (opcode < 0) return { fin, opcode, length, headerBytes };
  if (available < headerBytes) return undefined;
  return { fin, opcode, length, headerBytes };
}

/** Unmasks `payload` into `out` from `at`; returns `out`. */
function unmask(payload: Uint8Array, mask: Uint8Array, out: Uint8Array, at: number): Uint8Array {
  const m0 = mask[0]!, m1 = mask[1]!, m2 = mask[2]!, m3 = mask[3]!;
  let i = 0;
  for (; i + 3 < payload.length; i += 4) {
    out[at + i] = payload[i]! ^ m0;
    out[at + i + 1] = payload[i + 1]! ^ m1;
    out[at + i + 2] = payload[i + 2]! ^ m2;
    out[at + i + 3] = payload[i + 3]! ^ m3;
  }
  for (; i < payload.length; i++) out[at + i] = payload[i]! ^ mask[i % 4]!;
  return out;
}

/** Close codes a peer may send (RFC 6455 7.4; 1004–1006 and 1015 are never sent). */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}

function fail(code: number, reason: string): FrameEvent {
  return { kind: "fail", code, reason };
}

const encoder = new TextEncoder();

/** An unmasked server frame (servers never mask, RFC 6455 5.1). */
export function serverFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const length = payload.length;
  const headerBytes = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = new Uint8Array(headerBytes + length);
  frame[0] = 0x80 | opcode;
  if (headerBytes === 2) {
    frame[1] = length;
  } else if (headerBytes === 4) {
    frame[1] = 126;
    frame[2] = length >> 8;
    frame[3] = length & 0xff;
  } else {
    frame[1] = 127;
    new DataView(frame.buffer).setBigUint64(2, BigInt(length));
  }
  frame.set(payload, headerBytes);
  return frame;
}

/** A text frame: built once per message, it can go to every subscriber as it is. */
export function textFrame(text: string): Uint8Array {
  return serverFrame(OPCODE.text, encoder.encode(text));
}

export function closeFrame(code: number, reason: string): Uint8Array {
  // A control frame's payload is at most 125 bytes: the code's 2, and 123 of reason, cut
  // before a character's continuation bytes so the reason stays UTF-8.
  const encoded = encoder.encode(reason);
  let cut = Math.min(encoded.length, MAX_CONTROL_BYTES - 2);
  while (cut < encoded.length && cut > 0 && (encoded[cut]! & 0xc0) === 0x80) cut--;
  const reasonBytes = encoded.subarray(0, cut);
  const payload = new Uint8Array(2 + reasonBytes.length);
  payload[0] = code >> 8;
  payload[1] = code & 0xff;
  payload.set(reasonBytes, 2);
  return serverFrame(OPCODE.close, payload);
}

const HANDSHAKE_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** The Sec-WebSocket-Accept answer to a Sec-WebSocket-Key (RFC 6455 4.2.2). */
export function acceptKey(key: string): string {
  return createHash("sha1").update(key + HANDSHAKE_GUID).digest("base64");
}

export type Handshake =
  | { ok: true; accept: string }
  | { ok: false; status: number; code: string; message: string };

/** Checks an upgrade request's method and headers (names lower-case, as node:http gives them). */
export function checkHandshake(
  method: string | undefined,
  headers: Record<string, string | string[] | undefined>,
): Handshake {
  const upgrade = headers["upgrade"];
  if (typeof upgrade !== "string" || !/(^|,)\s*websocket\s*(,|$)/i.test(upgrade)) {
    return refusal(426, "upgrade_required", "connect with a WebSocket");
  }
  if (method !== "GET") return refusal(400, "invalid_request", "a WebSocket upgrade is a GET");
  if (headers["sec-websocket-version"] !== "13") {
    return refusal(426, "upgrade_required", "Sec-WebSocket-Version must be 13");
  }
  const key = headers["sec-websocket-key"];
  if (typeof key !== "string" || !/^[A-Za-z0-9+/]{22}==$/.test(key.trim())) {
    return refusal(400, "invalid_request", "Sec-WebSocket-Key must be 16 bytes in base64");
  }
  return { ok: true, accept: acceptKey(key.trim()) };
}

function refusal(status: number, code: string, message: string): Handshake {
  return { ok: false, status, code, message };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
