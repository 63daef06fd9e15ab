/**
 * Pure bookkeeping for the gateway: who is subscribed to what, what to answer to a client's
 * message, whose token runs out when, how many sockets each client address holds, and how many
 * bytes wait to be sent, per socket and in all. No sockets here; the server owns those.
 */
import { type Asset, ASSET_SYMBOLS } from "@trading/shared/assets";
import { type Interval, INTERVALS } from "@trading/shared/candles";

export const CHANNELS: readonly string[] = [
  "prices",
  ...ASSET_SYMBOLS.map((a) => `prices.${a}`),
  "orders",
  "account",
  ...ASSET_SYMBOLS.flatMap((a) => INTERVALS.map((i) => candleChannel(a, i))),
];

/** The channel of an asset's candles at an interval (no token needed). */
export function candleChannel(asset: Asset, interval: Interval): string {
  return `candles.${asset}.${interval}`;
}
/** The channels of one user's own events: each needs a token, and carries only its user's. */
const PRIVATE_CHANNELS: readonly string[] = ["orders", "account"];

/** The server refuses longer frames before reading them; this guards the hub on its own. */
const MAX_MESSAGE_CHARS = 4096;

export type Reply =
  | { type: "subscribed"; channels: string[] }
  | { type: "unsubscribed"; channels: string[] }
  | { type: "authenticated"; userId: string; expiresAt: number }
  | { type: "pong" }
  | { type: "error"; code: string; message: string };

/**
 * `{"type":"auth","token"}` asks the server to verify a token (asynchronous, so not here); it
 * then calls `authenticate` with the token's claims or answers `unauthorized`.
 */
export interface AuthRequest {
  type: "auth";
  token: string;
}

interface Client {
  userId: string | undefined;
  /** When the token the client authenticated with expires, in seconds since the epoch. */
  expSec: number | undefined;
  channels: Set<string>;
}

export class Hub {
  readonly #clients = new Map<number, Client>();
  readonly #channelMembers = new Map<string, Set<number>>(CHANNELS.map((c) => [c, new Set()]));
  /** Per private channel, userId → clients subscribed to it with that user's token. */
  readonly #userMembers = new Map<string, Map<string, Set<number>>>(
    PRIVATE_CHANNELS.map((c) => [c, new Map()]),
  );

  get size(): number {
    return this.#clients.size;
  }

  add(clientId: number, userId?: string, expSec?: number): void {
    this.#clients.set(clientId, {
      userId,
      expSec: userId === undefined ? undefined : expSec,
      channels: new Set(),
    });
  }

  /**
   * Binds a client to a verified token's user. The same user may authenticate again (a fresh
   * token moves the expiry); another user may not: the socket's order subscription is one
   * user's, so switching users means a new socket.
   */
  authenticate(clientId: number, userId: string, expSec: number): Reply {
    const client = this.#clients.get(clientId);
    if (client === undefined) return error("unknown_client", "not connected");
    if (client.userId !== undefined && client.userId !== userId) {
      return error("already_authenticated", "this socket belongs to another user");
    }
    client.userId = userId;
    client.expSec = expSec;
    return { type: "authenticated", userId, expiresAt: expSec * 1000 };
  }

  /** When the client's token expires (seconds since the epoch); undefined if anonymous. */
  expiresAtSec(clientId: number): number | undefined {
    return this.#clients.get(clientId)?.expSec;
  }

  remove(clientId: number): void {
    const client = this.#clients.get(clientId);
    if (client === undefined) return;
    for (const channel of client.channels) this.#leave(clientId, client, channel);
    this.#clients.delete(clientId);
  }

  /** Applies one client message and returns the reply to send back (or a token to verify). */
  handle(clientId: number, text: string): Reply | AuthRequest {
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
    const { type, channels, token } = message as {
      type?: unknown;
      channels?: unknown;
      token?: unknown;
    };
    if (type === "ping") return { type: "pong" };
    if (type === "auth") {
      return typeof token === "string" && token !== ""
        ? { type: "auth", token }
        : error("invalid_message", "auth needs a token (a JWT string)");
    }
    if (type !== "subscribe" && type !== "unsubscribe") {
      return error("unknown_type", "type must be auth, subscribe, unsubscribe or ping");
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
    const privateName = names.find((name) => PRIVATE_CHANNELS.includes(name));
    if (privateName !== undefined && client.userId === undefined) {
      return error(
        "unauthorized",
        `the ${privateName} channel needs a token: {"type":"auth","token"} first, or ?token= on connect`,
      );
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

  /** Clients subscribed to a channel (a candle channel's, for one). */
  channelTargets(channel: string): ReadonlySet<number> {
    return this.#channelMembers.get(channel) ?? new Set();
  }

  /** Clients of this user subscribed to their orders. */
  orderTargets(userId: string): ReadonlySet<number> {
    return this.#userMembers.get("orders")!.get(userId) ?? NO_CLIENTS;
  }

  /** Clients of this user subscribed to their account's figures. */
  accountTargets(userId: string): ReadonlySet<number> {
    return this.#userMembers.get("account")!.get(userId) ?? NO_CLIENTS;
  }

  /** Whether any client here wants this user's events (orders or account): else skip them. */
  wantsUser(userId: string): boolean {
    return this.orderTargets(userId).size !== 0 || this.accountTargets(userId).size !== 0;
  }

  #join(clientId: number, client: Client, channel: string): void {
    client.channels.add(channel);
    this.#channelMembers.get(channel)!.add(clientId);
    const byUser = this.#userMembers.get(channel);
    if (byUser !== undefined && client.userId !== undefined) {
      let members = byUser.get(client.userId);
      if (members === undefined) byUser.set(client.userId, members = new Set());
      members.add(clientId);
    }
  }

  #leave(clientId: number, client: Client, channel: string): void {
    client.channels.delete(channel);
    this.#channelMembers.get(channel)?.delete(clientId);
    const byUser = this.#userMembers.get(channel);
    if (byUser !== undefined && client.userId !== undefined) {
      const members = byUser.get(client.userId);
      members?.delete(clientId);
      if (members?.size === 0) byUser.delete(client.userId);
    }
  }
}

const NO_CLIENTS: ReadonlySet<number> = new Set();

function error(code: string, message: string): Reply {
  return { type: "error", code, message };
}

/** A socket's bytes waiting to be sent, as last recorded (the server keeps it on its socket). */
export interface Waiting {
  waitingBytes: number;
}

/** What a send must do first: nothing, close this socket (too slow), or free some budget. */
export type SendAdmission = "ok" | "slow" | "over_budget";

/**
 * Bytes waiting to be sent to slow readers, against two limits: a socket's own (`perSocket`),
 * and all sockets' together (`total`), so that 20,000 sockets each under their own limit cannot
 * add up to more memory than the gateway has. The server records a socket's waiting bytes when
 * it writes to it and when a write is flushed; the total is their sum, kept as they change, so
 * checking a send costs O(1). Only when a send would take the total past the budget does the
 * server look for the socket with the most waiting (O(sockets)) and close it.
 */
export class SendBudget<T extends Waiting> {
  #total = 0;

  constructor(readonly perSocket: number, readonly total: number) {}

  /** Bytes waiting in all, as last recorded. */
  get waitingBytes(): number {
    return this.#total;
  }

  /** Records that `entry` has `bytes` waiting now. */
  record(entry: T, bytes: number): void {
    this.#total += bytes - entry.waitingBytes;
    entry.waitingBytes = bytes;
  }

  /** Takes a closed socket's bytes out of the total. */
  forget(entry: T): void {
    this.record(entry, 0);
  }

  /**
   * Before `frameBytes` are written to `entry`, which has `buffered` bytes waiting: "slow" if
   * the socket is over its own limit, "over_budget" if the write would take the total past the
   * budget (close `largest` and ask again), else "ok".
   */
  admit(entry: T, buffered: number, frameBytes: number): SendAdmission {
    this.record(entry, buffered);
    if (buffered > this.perSocket) return "slow";
    if (this.#total + frameBytes > this.total && this.#total > 0) return "over_budget";
    return "ok";
  }

  /** The entry with the most bytes waiting (the first of equals), if any has some. */
  largest(entries: Iterable<T>): T | undefined {
    let most: T | undefined;
    for (const entry of entries) {
      if (entry.waitingBytes > (most?.waitingBytes ?? 0)) most = entry;
    }
    return most;
  }
}

/** Why an upgrade is refused: too many sockets from one address, or in all. */
export type Admission = "ok" | "per_ip" | "total";

/**
 * Open sockets per client address and in all. The server takes a place at the upgrade and
 * gives it back exactly once when the socket closes; an address's entry is deleted at zero, so
 * the map never holds more entries than there are open sockets.
 */
export class ConnectionCounter {
  readonly #perIp = new Map<string, number>();
  #total = 0;

  constructor(readonly maxPerIp: number, readonly maxTotal: number) {}

  get total(): number {
    return this.#total;
  }

  /** Addresses with at least one open socket. */
  get addresses(): number {
    return this.#perIp.size;
  }

  countOf(ip: string): number {
    return this.#perIp.get(ip) ?? 0;
  }

  tryOpen(ip: string): Admission {
    const held = this.#perIp.get(ip) ?? 0;
    if (held >= this.maxPerIp) return "per_ip";
    if (this.#total >= this.maxTotal) return "total";
    this.#perIp.set(ip, held + 1);
    this.#total++;
    return "ok";
  }

  release(ip: string): void {
    const held = this.#perIp.get(ip);
    if (held === undefined) return;
    if (held <= 1) this.#perIp.delete(ip);
    else this.#perIp.set(ip, held - 1);
    this.#total--;
  }
}

/**
 * The key a client address counts under: IPv4 (also IPv4-mapped IPv6) as it is, IPv6 by its
 * /64, since one IPv6 client is commonly given a whole /64 and could otherwise pick a new
 * address per socket.
 */
export function addressKey(address: string | undefined): string {
  if (address === undefined || address === "") return "unknown";
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped !== null) return mapped[1]!;
  if (!address.includes(":")) return address;
  return ipv6Prefix64(address) ?? address;
}

/** "2001:db8:1:2:…" → "2001:db8:1:2::/64"; undefined if the text is not an IPv6 address. */
function ipv6Prefix64(address: string): string | undefined {
  const bare = address.split("%")[0]!.toLowerCase();
  const halves = bare.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] === "" ? [] : halves[0]!.split(":");
  const tail = halves[1] === undefined || halves[1] === "" ? [] : halves[1].split(":");
  // A dotted IPv4 tail stands for two groups.
  const width = (groups: string[]) => groups.reduce((n, g) => n + (g.includes(".") ? 2 : 1), 0);
  const missing = 8 - width(head) - width(tail);
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 1 ? 0 : missing).fill("0"), ...tail];
  const prefix = groups.slice(0, 4);
  if (!prefix.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return `${prefix.map((g) => Number.parseInt(g, 16).toString(16)).join(":")}::/64`;
}
