/**
 * A lean WebSocket client for the fan-out benchmark: a raw TCP connection, the RFC 6455
 * handshake, one masked text frame to subscribe, then server frames parsed straight from the
 * bytes. Thousands of Deno `WebSocket` objects in one process cost far more per message than
 * the gateway does to send it, so the benchmark would measure its own clients; this one
 * costs what a socket read costs (6–17 µs of CPU a message on the 2-core machine, most of it
 * the read op and the kernel).
 */
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface WsReader {
  close(): void;
}

/** Connects, sends `subscribe` as a text frame, and calls `onText` with each text message. */
export async function openWsReader(
  port: number,
  subscribe: string,
  onText: (text: string) => void,
): Promise<WsReader> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  await conn.write(encoder.encode(
    `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  ));
  let buffer: Uint8Array = new Uint8Array(0);
  const chunk = new Uint8Array(64 * 1024);
  // The handshake answer, up to its blank line.
  for (;;) {
    const n = await conn.read(chunk);
    if (n === null) throw new Error("closed during the handshake");
    buffer = concat(buffer, chunk.subarray(0, n));
    const text = decoder.decode(buffer);
    const end = text.indexOf("\r\n\r\n");
    if (end < 0) continue;
    if (!text.startsWith("HTTP/1.1 101")) throw new Error(`no upgrade: ${text.slice(0, 40)}`);
    buffer = buffer.subarray(encoder.encode(text.slice(0, end + 4)).length);
    break;
  }
  await conn.write(maskedText(subscribe));
  let open = true;
  (async () => {
    try {
      for (;;) {
        buffer = drainFrames(buffer, onText);
        const n = await conn.read(chunk);
        if (n === null) break;
        buffer = buffer.length === 0 ? chunk.slice(0, n) : concat(buffer, chunk.subarray(0, n));
      }
    } catch {
      // closed by close()
    }
    open = false;
  })();
  return {
    close() {
      if (open) conn.close();
      open = false;
    },
  };
}

/** Parses every whole frame at the start of `bytes`; returns what is left of a partial one. */
function drainFrames(bytes: Uint8Array, onText: (text: string) => void): Uint8Array {
  let offset = 0;
  for (;;) {
    if (bytes.length - offset < 2) break;
    const opcode = bytes[offset]! & 0x0f;
    let length = bytes[offset + 1]! & 0x7f;
    let header = 2;
    if (length === 126) {
      if (bytes.length - offset < 4) break;
      length = (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
      header = 4;
    } else if (length === 127) {
      if (bytes.length - offset < 10) break;
      length = Number(new DataView(bytes.buffer, bytes.byteOffset + offset + 2, 8).getBigUint64(0));
      header = 10;
    }
    if (bytes.length - offset < header + length) break;
    if (opcode === 1) {
      onText(decoder.decode(bytes.subarray(offset + header, offset + header + length)));
    }
    offset += header + length;
  }
  return offset === 0 ? bytes : bytes.slice(offset);
}

function maskedText(text: string): Uint8Array {
  const payload = encoder.encode(text);
  if (payload.length > 125) throw new Error("subscribe messages are short");
  const mask = crypto.getRandomValues(new Uint8Array(4));
  const frame = new Uint8Array(6 + payload.length);
  frame[0] = 0x81;
  frame[1] = 0x80 | payload.length;
  frame.set(mask, 2);
  for (let i = 0; i < payload.length; i++) frame[6 + i] = payload[i]! ^ mask[i % 4]!;
  return frame;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a, 0);
  joined.set(b, a.length);
  return joined;
}
