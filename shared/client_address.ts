/**
 * The client's address behind trusted proxies (TRUSTED_PROXIES): what the per-address limits
 * count by (signups, signins, WebSockets). Pure: no IO, no clock.
 *
 * The connecting peer is the client unless it is a trusted proxy. Then `X-Forwarded-For` is
 * read from the right, as each proxy appends the address it was connected from: entries that
 * are trusted proxies themselves are skipped, and the first one that is not is the client.
 * Entries left of it were written by the client or by proxies nobody vouches for, and are never
 * looked at, so a client cannot choose its address by writing the header itself. If every
 * entry read is a trusted proxy, the leftmost of them is taken; an entry that is not an
 * address (or no header at all) gives the peer's address. At most the last
 * `MAX_FORWARDED_FOR_CHARS` characters and `MAX_FORWARDED_HOPS` entries are read.
 *
 * Addresses are held as 128-bit integers, IPv4 as IPv4-mapped IPv6 (`::ffff:a.b.c.d`), so that
 * an IPv4 range also matches a dual-stack socket's `::ffff:…` peer, and the other way round.
 */

/** An address range: the addresses whose first `bits` bits (of 128) are those of `base`. */
export interface IpRange {
  readonly base: bigint;
  readonly bits: number;
}

/** The parsed TRUSTED_PROXIES; empty trusts nobody. */
export type TrustedProxies = readonly IpRange[];

/** Characters of X-Forwarded-For read at most (its end: the entries nearest to us). */
export const MAX_FORWARDED_FOR_CHARS = 2048;
/** Entries of X-Forwarded-For read at most, from the right. */
export const MAX_FORWARDED_HOPS = 32;

const MAPPED_PREFIX = 0xffffn << 32n;
const IPV4_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;
const IPV6_GROUP = /^[0-9a-fA-F]{1,4}$/;
const PREFIX_LENGTH = /^(?:0|[1-9][0-9]{0,2})$/;

/** "a.b.c.d" (decimal, no leading zeros) → its 32 bits; undefined if it is not one. */
function parseIpv4(text: string): number | undefined {
  const octets = text.split(".");
  if (octets.length !== 4) return undefined;
  let value = 0;
  for (const octet of octets) {
    if (!IPV4_OCTET.test(octet)) return undefined;
    const n = Number(octet);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value;
}

/** The 16-bit groups of one side of "::"; a dotted IPv4 only as the last part of `last`. */
function ipv6Groups(text: string, last: boolean): number[] | undefined {
  if (text === "") return [];
  const parts = text.split(":");
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (last && i === parts.length - 1 && part.includes(".")) {
      const v4 = parseIpv4(part);
      if (v4 === undefined) return undefined;
      groups.push(Math.floor(v4 / 65_536), v4 % 65_536);
    } else if (IPV6_GROUP.test(part)) {
      groups.push(Number.parseInt(part, 16));
    } else {
      return undefined;
    }
  }
  return groups;
}

/** An IPv6 address in any RFC 4291 text form (no zone) → its 128 bits. */
function parseIpv6(text: string): bigint | undefined {
  // The longest form: eight groups of four, or six and a dotted IPv4 (45 characters).
  if (text.length > 45) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  let groups: number[];
  if (halves.length === 1) {
    const all = ipv6Groups(text, true);
    if (all === undefined || all.length !== 8) return undefined;
    groups = all;
  } else {
    const head = ipv6Groups(halves[0]!, false);
    const tail = ipv6Groups(halves[1]!, true);
    if (head === undefined || tail === undefined) return undefined;
    // "::" stands for at least one group of zeros.
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    groups = [...head, ...Array<number>(missing).fill(0), ...tail];
  }
  return groups.reduce((value, group) => (value << 16n) | BigInt(group), 0n);
}

/**
 * An IPv4 or IPv6 address (no port, no brackets, no zone) → 128 bits, IPv4 as IPv4-mapped;
 * undefined if the text is not an address.
 */
export function parseIp(text: string): bigint | undefined {
  if (text.includes(":")) return parseIpv6(text);
  const v4 = parseIpv4(text);
  return v4 === undefined ? undefined : MAPPED_PREFIX | BigInt(v4);
}

/** Canonical text: dotted IPv4 for IPv4 and IPv4-mapped, else RFC 5952 IPv6 ("2001:db8::1"). */
export function formatIp(value: bigint): string {
  if (value >> 32n === 0xffffn) {
    const v4 = Number(value & 0xffff_ffffn);
    return [v4 >>> 24, (v4 >>> 16) & 255, (v4 >>> 8) & 255, v4 & 255].join(".");
  }
  const groups = Array.from(
    { length: 8 },
    (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn),
  );
  // The longest run of two or more zero groups (the first of equals) becomes "::".
  let bestAt = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestAt, bestLength] = [i, j - i];
    i = j;
  }
  const hex = (part: number[]) => part.map((g) => g.toString(16)).join(":");
  if (bestAt < 0) return hex(groups);
  return `${hex(groups.slice(0, bestAt))}::${hex(groups.slice(bestAt + bestLength))}`;
}

/** "10.0.0.0/8", "2001:db8::/32", or a single address → its range; undefined if malformed. */
export function parseRange(text: string): IpRange | undefined {
  const slash = text.indexOf("/");
  const address = slash < 0 ? text : text.slice(0, slash);
  const value = parseIp(address);
  if (value === undefined) return undefined;
  // An IPv4 prefix counts within the IPv4-mapped block's last 32 bits.
  const offset = address.includes(":") ? 0 : 96;
  let bits = 128;
  if (slash >= 0) {
    const length = text.slice(slash + 1);
    if (!PREFIX_LENGTH.test(length) || Number(length) > 128 - offset) return undefined;
    bits = offset + Number(length);
  }
  // Bits past the prefix are dropped: "10.1.2.3/8" is 10.0.0.0/8.
  const shift = BigInt(128 - bits);
  return { base: (value >> shift) << shift, bits };
}

/**
 * TRUSTED_PROXIES' text: comma-separated addresses or CIDR ranges (spaces around entries and
 * empty entries ignored). Throws an Error naming the first entry that is neither.
 */
export function parseTrustedProxies(text: string): TrustedProxies {
  const ranges: IpRange[] = [];
  for (const raw of text.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    const range = parseRange(entry);
    if (range === undefined) {
      throw new Error(
        `${JSON.stringify(entry)} is not an IPv4/IPv6 address or CIDR range (e.g. 10.0.0.1, ` +
          "10.0.0.0/8, 2001:db8::/32)",
      );
    }
    ranges.push(range);
  }
  return ranges;
}

/** Whether `address` (from parseIp) is in one of the ranges. */
export function isTrusted(address: bigint, trusted: TrustedProxies): boolean {
  return trusted.some(({ base, bits }) => {
    const shift = BigInt(128 - bits);
    return address >> shift === base >> shift;
  });
}

/**
 * One X-Forwarded-For entry: an address, optionally with a port ("1.2.3.4:5678",
 * "[2001:db8::1]:443") or in brackets ("[2001:db8::1]"), as some proxies write them.
 */
function parseForwardedEntry(raw: string): bigint | undefined {
  const entry = raw.trim();
  const bracketed = /^\[([0-9A-Fa-f:.]+)\](?::([0-9]{1,5}))?$/.exec(entry);
  if (bracketed !== null) {
    const [, address, port] = bracketed as unknown as [string, string, string | undefined];
    return address.includes(":") && validPort(port) ? parseIp(address) : undefined;
  }
  const withPort = /^([0-9.]+):([0-9]{1,5})$/.exec(entry);
  if (withPort !== null) return validPort(withPort[2]) ? parseIp(withPort[1]!) : undefined;
  return parseIp(entry);
}

function validPort(port: string | undefined): boolean {
  return port === undefined || Number(port) <= 65_535;
}

/**
 * The client's address, canonical (see formatIp): the peer's, or, when the peer is a trusted
 * proxy, the one X-Forwarded-For gives (see the top). `peer` is the socket's remote address
 * (a zone, "%eth0", is dropped); `forwardedFor` the header's value, several headers joined by
 * commas in the order received. Undefined only when `peer` is; a peer that is not an address
 * is returned as it is.
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | null | undefined,
  trusted: TrustedProxies,
): string | undefined {
  if (peer === undefined) return undefined;
  const peerValue = parseIp(peer.split("%")[0]!);
  if (peerValue === undefined) return peer;
  const peerAddress = formatIp(peerValue);
  if (forwardedFor === null || forwardedFor === undefined || !isTrusted(peerValue, trusted)) {
    return peerAddress;
  }
  const cut = forwardedFor.length > MAX_FORWARDED_FOR_CHARS;
  const entries = (cut ? forwardedFor.slice(-MAX_FORWARDED_FOR_CHARS) : forwardedFor).split(",");
  // Cut to its last characters, the header's first entry read may be part of one: skipped.
  if (cut) entries.shift();
  let leftmost: bigint | undefined;
  for (let hop = 0; hop < MAX_FORWARDED_HOPS && entries.length > 0; hop++) {
    const address = parseForwardedEntry(entries.pop()!);
    if (address === undefined) return peerAddress;
    if (!isTrusted(address, trusted)) return formatIp(address);
    leftmost = address;
  }
  return leftmost === undefined ? peerAddress : formatIp(leftmost);
}
