/**
 * Pure fan-out bookkeeping for the gateway: who is subscribed to what, and what to answer to a
 * client's message. No sockets here; the server owns those.
 */
import { type Asset, ASSET_SYMBOLS } from "@trading/shared/assets";

export const CHANNELS: readonly string[] = [
  "prices",
  ...ASSET_SYMBOLS.map((a) => `prices.${a}`),
  "orders",
];
const MAX_MESSAGE_CHARS = 4096;

export type Reply =
  | { type: "subscribed"; channels: string[] }
  | { type: "unsubscribed"; channels: string[] }
  | { type: "pong" }
  | { type: "error"; code: string; message: string };

interface Client {
  userId: string | undefined;
  channels: Set<string>;
}

export class Hub {
  readonly #clients = new Map<number, Client>();
  readonly #channelMembers = new Map<string, Set<number>>(CHANNELS.map((c) => [c, new Set()]));
  /** userId → clients subscribed to `orders` with that user's token. */
  readonly #orderMembers = new Map<string, Set<number>>();

  get size(): number {
    return this.#clients.size;
  }

  add(clientId: number, userId: string | undefined): void {
    this.#clients.set(clientId, { userId, channels: new Set() });
  }

  remove(clientId: number): void {
    const client = this.#clients.get(clientId);
    if (client === undefined) return;
    for (const channel of client.channels) this.#leave(clientId, client, channel);
    this.#clients.delete(clientId);
  }

  /** Applies one client message and returns the reply to send back. */
  handle(clientId: number, text: string): Reply {
    const client = this.#clients.get(clientId);
    if (client === undefined) return error("unknown_client", "not connected");
    if (text.length > MAX_MESSAGE_CHARS) return error("too_large", "messages are at most 4 KiB");
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return error("invalid_json", "messages must be JSON");
    }
    if (typeof message !== "object" || message === null || Array.isArray(message)) {
      return error("invalid_message", "a message is an object with a type");
    }
    const { type, channels } = message as { type?: unknown; channels?: unknown };
    if (type === "ping") return { type: "pong" };
    if (type !== "subscribe" && type !== "unsubscribe") {
      return error("unknown_type", "type must be subscribe, unsubscribe or ping");
    }
    if (!Array.isArray(channels) || channels.length === 0 || channels.length > CHANNELS.length) {
      return error(
        "invalid_channels",
        `channels must be a non-empty list of: ${CHANNELS.join(", ")}`,
      );
    }
    const unknown = channels.find((c) => typeof c !== "string" || !CHANNELS.includes(c));
    if (unknown !== undefined) {
      return error("unknown_channel", `unknown channel ${JSON.stringify(unknown).slice(0, 40)}`);
    }
    const names = [...new Set(channels as string[])];
    if (type === "unsubscribe") {
      for (const channel of names) this.#leave(clientId, client, channel);
      return { type: "unsubscribed", channels: names };
    }
    if (names.includes("orders") && client.userId === undefined) {
      return error("unauthorized", "the orders channel needs ?token=<JWT> on connect");
    }
    for (const channel of names) this.#join(clientId, client, channel);
    return { type: "subscribed", channels: names };
  }

  /** Clients that want a price of this asset (each once). */
  priceTargets(asset: Asset): Set<number> {
    const targets = new Set(this.#channelMembers.get("prices"));
    for (const id of this.#channelMembers.get(`prices.${asset}`) ?? []) targets.add(id);
    return targets;
  }

  /** Clients of this user subscribed to their orders. */
  orderTargets(userId: string): ReadonlySet<number> {
    return this.#orderMembers.get(userId) ?? new Set();
  }

  #join(clientId: number, client: Client, channel: string): void {
    client.channels.add(channel);
    this.#channelMembers.get(channel)!.add(clientId);
    if (channel === "orders" && client.userId !== undefined) {
      let members = this.#orderMembers.get(client.userId);
      if (members === undefined) this.#orderMembers.set(client.userId, members = new Set());
      members.add(clientId);
    }
  }

  #leave(clientId: number, client: Client, channel: string): void {
    client.channels.delete(channel);
    this.#channelMembers.get(channel)?.delete(clientId);
    if (channel === "orders" && client.userId !== undefined) {
      const members = this.#orderMembers.get(client.userId);
      members?.delete(clientId);
      if (members?.size === 0) this.#orderMembers.delete(client.userId);
    }
  }
}

function error(code: string, message: string): Reply {
  return { type: "error", code, message };
}
