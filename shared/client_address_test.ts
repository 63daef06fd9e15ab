import assert from "node:assert/strict";
import {
  clientAddress,
  formatIp,
  isTrusted,
  MAX_FORWARDED_FOR_CHARS,
  MAX_FORWARDED_HOPS,
  parseIp,
  parseRange,
  parseTrustedProxies,
} from "./client_address.ts";

const LB = parseTrustedProxies("10.250.80.10");

Deno.test("parseIp/formatIp: IPv4, IPv6 and IPv4-mapped IPv6, in canonical text", () => {
  const canonical: Array<[string, string]> = [
    ["1.2.3.4", "1.2.3.4"],
    ["0.0.0.0", "0.0.0.0"],
    ["255.255.255.255", "255.255.255.255"],
    ["::ffff:1.2.3.4", "1.2.3.4"],
    ["::FFFF:102:304", "1.2.3.4"],
    ["0:0:0:0:0:ffff:1.2.3.4", "1.2.3.4"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["::", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["fe80::1:2", "fe80::1:2"],
    ["64:ff9b::192.0.2.1", "64:ff9b::c000:201"],
    ["1:0:0:2:0:0:0:3", "1:0:0:2::3"],
  ];
  for (const [text, expected] of canonical) {
    const value = parseIp(text);
    assert.ok(value !== undefined, text);
    assert.equal(formatIp(value), expected, text);
  }
  assert.equal(parseIp("1.2.3.4"), parseIp("::ffff:1.2.3.4"), "IPv4 is held IPv4-mapped");
  const malformed = [
    "",
    "1.2.3",
    "1.2.3.4.5",
    "256.1.1.1",
    "01.2.3.4", // octal to some parsers: refused rather than guessed
    "1.2.3.-4",
    " 1.2.3.4",
    "1.2.3.4/32",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4::5:6:7:8", // "::" must stand for at least one group
    "1::2::3",
    ":1:2:3:4:5:6:7",
    "12345::1",
    "g::1",
    "1.2.3.4::",
    "::1.2.3.4:5",
    "fe80::1%eth0",
    "[::1]",
    "unknown",
    "localhost",
  ];
  for (const text of malformed) assert.equal(parseIp(text), undefined, JSON.stringify(text));
});

Deno.test("parseRange/isTrusted: addresses and CIDR ranges, IPv4 also matching IPv4-mapped", () => {
  const within = (range: string, address: string) =>
    isTrusted(parseIp(address)!, [parseRange(range)!]);
  assert.ok(within("10.0.0.0/8", "10.255.1.2"));
  assert.ok(!within("10.0.0.0/8", "11.0.0.0"));
  assert.ok(within("10.0.0.0/8", "::ffff:10.1.2.3"), "a dual-stack socket's IPv4 peer");
  assert.ok(within("::ffff:10.0.0.0/104", "10.9.9.9"));
  assert.ok(within("192.168.1.7", "192.168.1.7"));
  assert.ok(!within("192.168.1.7", "192.168.1.8"));
  assert.ok(within("192.168.1.7/32", "192.168.1.7"));
  assert.ok(within("172.16.0.0/12", "172.31.255.255"));
  assert.ok(!within("172.16.0.0/12", "172.32.0.0"));
  assert.ok(within("0.0.0.0/0", "8.8.8.8"));
  assert.ok(!within("0.0.0.0/0", "2001:db8::1"), "an IPv4 range holds no IPv6 address");
  assert.ok(within("2001:db8::/32", "2001:db8:ffff::1"));
  assert.ok(!within("2001:db8::/32", "2001:db9::1"));
  assert.ok(within("fd00::/8", "fdab::1"));
  assert.ok(within("::/0", "2001:db8::1"));
  assert.ok(within("::1", "::1"));
  assert.ok(!within("::1", "127.0.0.1"));
  // Bits past the prefix are dropped.
  assert.deepEqual(parseRange("10.1.2.3/8"), parseRange("10.0.0.0/8"));
  for (const bad of ["10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/08", "::/129", "/8"]) {
    assert.equal(parseRange(bad), undefined, bad);
  }
});

Deno.test("parseTrustedProxies: a list; a bad entry is named in the error", () => {
  assert.deepEqual(parseTrustedProxies(""), []);
  assert.deepEqual(parseTrustedProxies(" , "), []);
  const list = parseTrustedProxies(" 10.0.0.1, 192.168.0.0/16 ,fd00::/8,");
  assert.equal(list.length, 3);
  assert.ok(isTrusted(parseIp("192.168.3.4")!, list));
  assert.ok(isTrusted(parseIp("fd12::1")!, list));
  assert.ok(!isTrusted(parseIp("10.0.0.2")!, list));
  for (const bad of ["10.0.0.1, nginx", "10.0.0.0/40", "10.0.0.1 10.0.0.2", "*"]) {
    assert.throws(() => parseTrustedProxies(bad), /is not an IPv4\/IPv6 address or CIDR range/);
  }
  assert.throws(() => parseTrustedProxies("10.0.0.1,lb"), /"lb"/);
});

Deno.test("clientAddress: the peer unless it is a trusted proxy", () => {
  // Nobody trusted (the default): the header is ignored, whoever sends it.
  assert.equal(clientAddress("203.0.113.9", "198.51.100.1", []), "203.0.113.9");
  assert.equal(clientAddress("10.250.80.10", "198.51.100.1", []), "10.250.80.10");
  // A spoofing client connecting directly: not a trusted proxy, so its header means nothing.
  assert.equal(clientAddress("203.0.113.9", "198.51.100.1", LB), "203.0.113.9");
  assert.equal(clientAddress("203.0.113.9", "10.250.80.10", LB), "203.0.113.9");
  assert.equal(clientAddress("::ffff:203.0.113.9", "198.51.100.1", LB), "203.0.113.9");
  // No peer known (a test request): nothing to go by.
  assert.equal(clientAddress(undefined, "198.51.100.1", LB), undefined);
  // A peer that is not an address is kept as it is, and trusted by nobody.
  assert.equal(clientAddress("local", "198.51.100.1", LB), "local");
  // The peer's address is canonical too.
  assert.equal(clientAddress("::ffff:127.0.0.1", null, []), "127.0.0.1");
  assert.equal(clientAddress("2001:DB8::0:1", null, []), "2001:db8::1");
  assert.equal(clientAddress("fe80::1%eth0", null, []), "fe80::1");
});

Deno.test("clientAddress: behind trusted proxies, the rightmost untrusted entry", () => {
  // What nginx sends: the client's own header (if any), then the address it saw.
  assert.equal(clientAddress("10.250.80.10", "198.51.100.1", LB), "198.51.100.1");
  assert.equal(clientAddress("::ffff:10.250.80.10", "198.51.100.1", LB), "198.51.100.1");
  // A client writing the header itself behind the proxy: only the proxy's entry is believed.
  assert.equal(clientAddress("10.250.80.10", "1.1.1.1, 198.51.100.1", LB), "198.51.100.1");
  assert.equal(clientAddress("10.250.80.10", "10.250.80.10, 198.51.100.1", LB), "198.51.100.1");
  assert.equal(clientAddress("10.250.80.10", "garbage, 198.51.100.1", LB), "198.51.100.1");
  assert.equal(
    clientAddress("10.250.80.10", `${"x".repeat(10_000)}, 198.51.100.1`, LB),
    "198.51.100.1",
    "a long header's end is read",
  );
  // Several headers arrive joined by commas, in order.
  assert.equal(clientAddress("10.250.80.10", "1.1.1.1,198.51.100.1", LB), "198.51.100.1");
  // A chain of trusted proxies: each is skipped.
  const chain = parseTrustedProxies("10.0.0.0/8, 2001:db8:ffff::/48");
  assert.equal(
    clientAddress("10.0.0.1", "6.6.6.6, 198.51.100.1, 10.2.0.5, 2001:db8:ffff::7", chain),
    "198.51.100.1",
  );
  // IPv6 clients, IPv4-mapped ones (canonical: dotted), and the forms with brackets or ports.
  assert.equal(clientAddress("10.250.80.10", "2001:DB8:0::5", LB), "2001:db8::5");
  assert.equal(clientAddress("10.250.80.10", "::ffff:198.51.100.1", LB), "198.51.100.1");
  assert.equal(clientAddress("10.250.80.10", "[2001:db8::5]", LB), "2001:db8::5");
  assert.equal(clientAddress("10.250.80.10", "[2001:db8::5]:443", LB), "2001:db8::5");
  assert.equal(clientAddress("10.250.80.10", "198.51.100.1:5678", LB), "198.51.100.1");
  assert.equal(clientAddress("10.250.80.10", " \t198.51.100.1\t ", LB), "198.51.100.1");
  // Every entry trusted: the leftmost.
  assert.equal(clientAddress("10.0.0.1", "10.0.0.3, 10.0.0.2", chain), "10.0.0.3");
  // No header: the proxy itself (a health check), as without TRUSTED_PROXIES.
  assert.equal(clientAddress("10.250.80.10", null, LB), "10.250.80.10");
  assert.equal(clientAddress("10.250.80.10", undefined, LB), "10.250.80.10");
});

Deno.test("clientAddress: a malformed header gives the peer's address", () => {
  const malformed = [
    "",
    " ",
    "unknown",
    "198.51.100.1,",
    "198.51.100.1, ",
    "198.51.100.1,,10.250.80.10",
    "198.51.100.1 10.250.80.10",
    "198.51.100.1;10.250.80.10",
    "300.1.1.1",
    "[198.51.100.1]",
    "2001:db8::5]:443",
    "[1.2.3.4]:80",
    "198.51.100.1:99999",
    "fe80::1%eth0",
    "_gateway",
    "x".repeat(100_000),
  ];
  for (const header of malformed) {
    assert.equal(clientAddress("10.250.80.10", header, LB), "10.250.80.10", header.slice(0, 40));
  }
  // A malformed entry left of the client's is never read.
  assert.equal(clientAddress("10.250.80.10", "unknown, 198.51.100.1", LB), "198.51.100.1");
  // But one among trusted hops, before any untrusted entry, is.
  assert.equal(
    clientAddress("10.250.80.10", "198.51.100.1, bad, 10.250.80.10", LB),
    "10.250.80.10",
  );
});

Deno.test("clientAddress: at most the header's last 2 KiB and 32 hops are read", () => {
  const all = parseTrustedProxies("10.0.0.0/8");
  const hops = (n: number) => Array.from({ length: n }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
  // 33 trusted hops, the client's entry beyond the 32nd: not reached; the leftmost read is used.
  const far = ["198.51.100.1", ...hops(MAX_FORWARDED_HOPS + 1)].join(", ");
  assert.equal(clientAddress("10.0.0.1", far, all), "10.0.0.1");
  const near = ["198.51.100.1", ...hops(MAX_FORWARDED_HOPS - 1)].join(", ");
  assert.equal(clientAddress("10.0.0.1", near, all), "198.51.100.1");
  // Past the character cap only the header's end is read, and its first entry there may be
  // part of one ("1.2.3.4" of "201.2.3.4"): it is never taken for an address.
  const window = `1.2.3.4,${" ".repeat(MAX_FORWARDED_FOR_CHARS - 16)}10.0.0.5`;
  assert.equal(window.length, MAX_FORWARDED_FOR_CHARS);
  assert.equal(clientAddress("10.0.0.1", window, all), "1.2.3.4", "within the cap: read whole");
  assert.equal(clientAddress("10.0.0.1", `20${window}`, all), "10.0.0.5");
});
