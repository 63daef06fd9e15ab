/**
 * A Deno Worker holding a share of the fan-out benchmark's WebSocket clients, so the clients'
 * reads run on threads of their own instead of queueing behind each other on one event loop.
 * Messages in: `{ type: "open", port, count, subscribe }`, `{ type: "stop" }`. Out:
 * `{ type: "opened" }`, then `{ type: "latencies", micros: Float64Array }` (arrival minus the
 * price's `ts`, in µs) after `stop`.
 */
/// <reference lib="deno.worker" />
import { openWsReader, type WsReader } from "./ws_reader.ts";

const readers: WsReader[] = [];
let micros = new Float64Array(1024);
let count = 0;

function onText(text: string): void {
  if (!text.startsWith('{"type":"price"')) return;
  const at = text.indexOf('"ts":');
  if (at < 0) return;
  // The injected ts is the send time in ms (as µs on the wire, as Backpack's E).
  const ts = Number.parseInt(text.slice(at + 5), 10);
  if (count === micros.length) {
    const grown = new Float64Array(micros.length * 2);
    grown.set(micros);
    micros = grown;
  }
  micros[count++] = Math.max(1, Math.round((Date.now() - ts) * 1000));
}

self.onmessage = async (event: MessageEvent) => {
  const message = event.data as
    | { type: "open"; port: number; count: number; subscribe: string }
    | { type: "stop" };
  if (message.type === "open") {
    for (let i = 0; i < message.count; i += 200) {
      readers.push(
        ...await Promise.all(
          Array.from(
            { length: Math.min(200, message.count - i) },
            () => openWsReader(message.port, message.subscribe, onText),
          ),
        ),
      );
    }
    self.postMessage({ type: "opened" });
  } else {
    for (const reader of readers) reader.close();
    self.postMessage({ type: "latencies", micros: micros.slice(0, count) });
  }
};
