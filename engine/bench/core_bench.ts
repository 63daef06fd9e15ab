/**
 * Engine core benchmark (`deno task bench`): prints throughput on this machine.
 * (a) price entries/s with 1k, 10k, 100k open positions over 3 assets and both sides, ~1 % of
 *     entries triggering a close, and with 100k positions and 100k pending orders waiting
 *     (limit and stop, both sides, out of the walk's reach: their indexes are looked at on
 *     every quote); (b) open+close instruction pairs/s; (c) snapshot encode,
 *     hash and decode of 100k accounts + 100k positions, and its size.
 * Entries are pre-decoded: this measures the state machine, not zod or Redis.
 */
import { type Asset, ASSET_SYMBOLS } from "@trading/shared/assets";
import type { InputEntry, OpenEntry } from "@trading/shared/schemas";
import { apply } from "../core/apply.ts";
import {
  captureState,
  decodeState,
  encodeParts,
  encodeState,
  hashEncoded,
} from "../core/snapshot.ts";
import { createState, type EngineState } from "../core/state.ts";
import { idText } from "../io/batch.ts";

const encoder = new TextEncoder();
const CHUNK = 10_000;
const TRIGGERS_PER_CHUNK = 180; // ~1 % of entries trigger (some fire several)
const POSITIONS_PER_USER = 100;
/** Pending orders per placing account: at most `maxPendingOrders` (50) each. */
const PENDING_PER_USER = 50;
/** Pending orders placed inside each chunk's coming range (they fill within the chunk). */
const FILLS_PER_CHUNK = 60;
const MID: Record<Asset, bigint> = { BTC: 9_700_000n, ETH: 350_000n, SOL: 1_500_000n };

/** Deterministic xorshift PRNG: the benchmark is reproducible run to run. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4_294_967_296;
  };
}

class Clock {
  ms = 1_700_000_000_000;
  seq = 0;
  next(): string {
    this.seq++;
    // As the engine gets IDs: decoded from the reply's bytes into a flat string. A template
    // literal makes a rope, which V8 flattens on the first charCodeAt: a cost of the
    // benchmark, not of the engine.
    return idText(encoder.encode(`${this.ms}-${this.seq}`));
  }
  tick(): void {
    this.ms++;
    this.seq = 0;
  }
}

interface Book {
  state: EngineState;
  clock: Clock;
  random: () => number;
  users: number;
  opened: number;
}

function newBook(seed: number): Book {
  return { state: createState(), clock: new Clock(), random: rng(seed), users: 0, opened: 0 };
}

function step(book: Book, entry: InputEntry): void {
  apply(book.state, entry, book.clock.next());
}

function quote(book: Book, asset: Asset, mid: bigint): void {
  step(book, { kind: "price", asset, bid: mid - 1n, ask: mid + 1n, ts: 0n });
}

/** Opens one position; `near` puts one trigger inside [lo, hi] so the coming chunk fires it. */
function openOne(book: Book, asset: Asset, near: { lo: bigint; hi: bigint } | null): void {
  if (book.opened % POSITIONS_PER_USER === 0) {
    step(book, { kind: "create_account", requestId: "a", userId: `u${++book.users}` });
  }
  book.opened++;
  const quoteNow = book.state.quotes.get(asset)!;
  const long = book.random() < 0.5;
  const exit = long ? quoteNow.bid : quoteNow.ask;
  const entry: OpenEntry = {
    kind: "open",
    requestId: "r",
    userId: `u${book.users}`,
    asset,
    side: long ? "long" : "short",
    marginCents: 1_000n,
    leverage: 2,
    slippageBps: 10_000,
    expectedPrice: long ? quoteNow.ask : quoteNow.bid,
    stopLoss: undefined,
    takeProfit: undefined,
  };
  const far = BigInt(Math.floor(3_000 + book.random() * 4_000)); // 30–70 % away, in bps
  const up = exit * (10_000n + far) / 10_000n;
  const down = exit * (10_000n - far / 2n) / 10_000n;
  if (near === null) {
    entry.stopLoss = long ? down : up;
    entry.takeProfit = long ? up : down;
  } else {
    // A level strictly between the current exit quote and the chunk's extreme on one side.
    const above = near.hi > exit + 1n && (book.random() < 0.5 || near.lo >= exit - 1n);
    const span = above ? near.hi - exit : exit - near.lo;
    const offset = 1n + BigInt(Math.floor(book.random() * Number(span - 1n)));
    const level = above ? exit + offset : exit - offset;
    if (long) above ? (entry.takeProfit = level) : (entry.stopLoss = level);
    else above ? (entry.stopLoss = level) : (entry.takeProfit = level);
  }
  step(book, entry);
}

/**
 * Places one limit or stop order on the side it waits on: 30–70 % away from the quote, or, with
 * `near` (the coming chunk's range), a long limit whose trigger the chunk's asks will cross, so
 * fills are part of what the price entries cost.
 */
function placeOne(
  book: Book,
  asset: Asset,
  placed: number,
  near: { lo: bigint; hi: bigint } | null = null,
): void {
  if (placed % PENDING_PER_USER === 0) {
    step(book, { kind: "create_account", requestId: "a", userId: `p${placed}` });
  }
  const quoteNow = book.state.quotes.get(asset)!;
  // The chunk's lowest ask is its lowest mid + 1, `near.lo` + 2: a trigger at or above it fills.
  const nearAsk = near !== null && near.lo + 3n < quoteNow.ask;
  const long = nearAsk || book.random() < 0.5;
  const limit = nearAsk || book.random() < 0.5;
  const far = BigInt(Math.floor(3_000 + book.random() * 4_000));
  const below = long === limit; // a long limit waits below the ask, a long stop above it
  const reference = long ? quoteNow.ask : quoteNow.bid;
  let triggerPrice = below
    ? reference * (10_000n - far / 2n) / 10_000n
    : reference * (10_000n + far) / 10_000n;
  if (nearAsk) {
    // Strictly between the chunk's lowest ask and the current one: not filled now, filled soon.
    const span = quoteNow.ask - (near.lo + 2n);
    triggerPrice = near.lo + 2n + BigInt(Math.floor(book.random() * Number(span)));
  }
  step(book, {
    kind: "open",
    requestId: "r",
    userId: `p${placed - (placed % PENDING_PER_USER)}`,
    asset,
    side: long ? "long" : "short",
    marginCents: 1_000n,
    leverage: 2,
    orderType: limit ? "limit" : "stop",
    triggerPrice,
  });
}

/** A bounded random walk of mids for the next chunk, 1 bp steps, per asset in rotation. */
function chunkPath(book: Book): { assets: Asset[]; mids: bigint[] } {
  const assets: Asset[] = new Array(CHUNK);
  const mids: bigint[] = new Array(CHUNK);
  const current = new Map(ASSET_SYMBOLS.map((a) => [a, book.state.quotes.get(a)!.bid + 1n]));
  for (let i = 0; i < CHUNK; i++) {
    const asset = ASSET_SYMBOLS[i % 3]!;
    const mid = current.get(asset)!;
    const drift = mid > MID[asset] ? -1n : 1n; // mean-reverting, so levels stay reachable
    const step = book.random() < 0.55 ? drift : -drift;
    const next = mid + step * (mid / 10_000n);
    current.set(asset, next);
    assets[i] = asset;
    mids[i] = next;
  }
  return { assets, mids };
}

function rangeOf(path: { assets: Asset[]; mids: bigint[] }, asset: Asset) {
  let lo = 1n << 62n;
  let hi = 0n;
  path.assets.forEach((a, i) => {
    if (a !== asset) return;
    const mid = path.mids[i]!;
    if (mid - 1n < lo) lo = mid - 1n;
    if (mid + 1n > hi) hi = mid + 1n;
  });
  return { lo, hi };
}

function benchPrices(positions: number, totalEntries: number, pending = 0) {
  const book = newBook(positions);
  for (const asset of ASSET_SYMBOLS) quote(book, asset, MID[asset]);
  for (let i = 0; i < positions; i++) openOne(book, ASSET_SYMBOLS[i % 3]!, null);
  let placed = 0;
  for (; placed < pending; placed++) placeOne(book, ASSET_SYMBOLS[placed % 3]!, placed);
  if (book.state.pending.size !== pending) throw new Error("bench bug: orders not placed");
  let fills = 0;
  let elapsedMs = 0;
  let bareMs = 0;
  const bare = new Map<string, { bid: bigint; ask: bigint }>();
  let applied = 0;
  let triggered = 0;
  let triggeringEntries = 0;
  while (applied < totalEntries) {
    const path = chunkPath(book);
    const ranges = new Map(ASSET_SYMBOLS.map((a) => [a, rangeOf(path, a)]));
    // Top the book back up to `positions`, TRIGGERS_PER_CHUNK of them inside the coming range.
    const missing = positions - book.state.positions.size;
    for (let i = 0; i < Math.max(missing, TRIGGERS_PER_CHUNK); i++) {
      const asset = ASSET_SYMBOLS[i % 3]!;
      openOne(book, asset, i < TRIGGERS_PER_CHUNK ? ranges.get(asset)! : null);
    }
    // With pending orders: top them back up, some of them inside the coming range.
    const missingOrders = pending === 0 ? 0 : pending - book.state.pending.size;
    for (let i = 0; i < Math.max(missingOrders, pending === 0 ? 0 : FILLS_PER_CHUNK); i++) {
      const asset = ASSET_SYMBOLS[i % 3]!;
      placeOne(book, asset, placed++, i < FILLS_PER_CHUNK ? ranges.get(asset)! : null);
    }
    const ids: string[] = new Array(CHUNK);
    book.clock.tick();
    for (let i = 0; i < CHUNK; i++) ids[i] = book.clock.next();
    const entries: InputEntry[] = path.mids.map((mid, i) => ({
      kind: "price",
      asset: path.assets[i]!,
      bid: mid - 1n,
      ask: mid + 1n,
      ts: 0n,
    }));
    const state = book.state;
    // Reference: the least any engine must do per quote, remember it.
    let t = performance.now();
    for (let i = 0; i < CHUNK; i++) {
      const entry = entries[i] as { asset: string; bid: bigint; ask: bigint };
      bare.set(entry.asset, { bid: entry.bid, ask: entry.ask });
    }
    bareMs += performance.now() - t;
    t = performance.now();
    const start = t;
    for (let i = 0; i < CHUNK; i++) {
      const outputs = apply(state, entries[i]!, ids[i]!);
      if (outputs.length > 0) {
        triggered += outputs.length;
        triggeringEntries++;
        for (const output of outputs) {
          if (output.kind === "event" && output.result.event === "filled") fills++;
        }
      }
    }
    elapsedMs += performance.now() - start;
    applied += CHUNK;
  }
  return {
    positions,
    pending: book.state.pending.size,
    fills,
    openAtEnd: book.state.positions.size,
    entriesPerSec: applied / (elapsedMs / 1000),
    bareEntriesPerSec: applied / (bareMs / 1000),
    triggeringPct: (100 * triggeringEntries) / applied,
    closesFired: triggered,
  };
}

function benchPairs(pairs: number) {
  const book = newBook(7);
  for (const asset of ASSET_SYMBOLS) quote(book, asset, MID[asset]);
  step(book, { kind: "create_account", requestId: "a", userId: "trader" });
  const open: OpenEntry = {
    kind: "open",
    requestId: "r",
    userId: "trader",
    asset: "BTC",
    side: "long",
    marginCents: 1_000n,
    leverage: 10,
    slippageBps: 100,
    expectedPrice: MID.BTC + 1n,
    stopLoss: undefined,
    takeProfit: undefined,
  };
  const ids: string[] = new Array(2 * pairs);
  for (let i = 0; i < ids.length; i++) ids[i] = book.clock.next();
  const closes: InputEntry[] = new Array(pairs);
  const firstSeq = book.state.nextOrderSeq;
  for (let i = 0; i < pairs; i++) {
    closes[i] = { kind: "close", requestId: "r", userId: "trader", orderId: String(firstSeq + i) };
  }
  const state = book.state;
  const start = performance.now();
  for (let i = 0; i < pairs; i++) {
    apply(state, open, ids[2 * i]!);
    apply(state, closes[i]!, ids[2 * i + 1]!);
  }
  const elapsedMs = performance.now() - start;
  if (state.positions.size !== 0) throw new Error("bench bug: positions left open");
  return { pairs, pairsPerSec: pairs / (elapsedMs / 1000) };
}

function benchSnapshot(count: number) {
  const book = newBook(11);
  for (const asset of ASSET_SYMBOLS) quote(book, asset, MID[asset]);
  for (let i = 0; i < count; i++) {
    const userId = `user-${i.toString(36).padStart(8, "0")}-0000-0000-000000000000`;
    step(book, { kind: "create_account", requestId: "a", userId });
    step(book, {
      kind: "open",
      requestId: "r",
      userId,
      asset: ASSET_SYMBOLS[i % 3]!,
      side: i % 2 === 0 ? "long" : "short",
      marginCents: 1_000n + BigInt(i % 5_000),
      leverage: 1 + (i % 100),
      slippageBps: 10_000,
      expectedPrice: MID[ASSET_SYMBOLS[i % 3]!],
      stopLoss: undefined,
      takeProfit: undefined,
    });
  }
  const state = book.state;
  const timings = {
    encodeMs: Infinity,
    captureMs: Infinity,
    longestPartMs: Infinity,
    hashMs: Infinity,
    decodeMs: Infinity,
    bytes: 0,
  };
  for (let round = 0; round < 3; round++) {
    let t = performance.now();
    const encoded = encodeState(state);
    timings.encodeMs = Math.min(timings.encodeMs, performance.now() - t);
    // What the engine loop feels: the capture, then one part at a time between batches.
    t = performance.now();
    const view = captureState(state);
    timings.captureMs = Math.min(timings.captureMs, performance.now() - t);
    let longest = 0;
    const parts = encodeParts(view);
    for (;;) {
      t = performance.now();
      const next = parts.next();
      longest = Math.max(longest, performance.now() - t);
      if (next.done) break;
    }
    timings.longestPartMs = Math.min(timings.longestPartMs, longest);
    t = performance.now();
    hashEncoded(encoded);
    timings.hashMs = Math.min(timings.hashMs, performance.now() - t);
    t = performance.now();
    const decoded = decodeState(encoded);
    timings.decodeMs = Math.min(timings.decodeMs, performance.now() - t);
    timings.bytes = new TextEncoder().encode(encoded).length;
    if (decoded.positions.size !== count) throw new Error("bench bug: decode lost positions");
  }
  return { accounts: state.accounts.size, positions: state.positions.size, ...timings };
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
/** Rows for `deno task bench` (bench/run.ts), printed as one line with --rows. */
const rows: unknown[] = [];
let snapshotRow: unknown;
const quick = Deno.args.includes("--quick");
const only = Deno.args.find((arg) => arg.startsWith("--only="))?.slice("--only=".length);
const runs = (part: string) => only === undefined || only === part;

if (!Deno.args.includes("--part")) {
  console.log(
    `engine core benchmark — ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}`,
  );
}
if (only === undefined) {
  // Each part in a process of its own, as the other sections of `deno task bench`: the pairs
  // measured in the heap the price part leaves behind ran ~40 % slower, a cost of the
  // benchmark's order, not of the engine.
  const collected: unknown[] = [];
  for (const part of ["prices", "pairs", "snapshot"]) {
    const { stdout } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", import.meta.filename!, `--only=${part}`, "--rows", "--part"]
        .concat(quick ? ["--quick"] : []),
      stdout: "piped",
      stderr: "inherit",
    }).output();
    for (const line of new TextDecoder().decode(stdout).split("\n")) {
      if (line.startsWith("BENCH_ROWS ")) collected.push(...JSON.parse(line.slice(11)));
      else if (line !== "") console.log(line);
    }
  }
  if (Deno.args.includes("--rows")) console.log(`BENCH_ROWS ${JSON.stringify(collected)}`);
  Deno.exit(0);
}
if (runs("prices")) {
  console.log("\n(a) price entries/s (target >= 1,000,000 at 100k, roughly flat)");
}
const priceRuns: Array<[number, number]> = [[1_000, 0], [10_000, 0], [100_000, 0]];
// Next to the positions-only figure at 100k: the same book with 100k pending orders waiting.
priceRuns.push([100_000, quick ? 10_000 : 100_000]);
for (const [positions, pending] of runs("prices") ? priceRuns : []) {
  const r = benchPrices(positions, quick ? 100_000 : 1_000_000, pending);
  if (pending > 0 && r.fills === 0) throw new Error("bench bug: no pending order filled");
  const waiting = pending === 0
    ? ""
    : ` + ${fmt(r.pending)} pending orders (${fmt(r.fills)} filled)`;
  rows.push({
    section: "engine core",
    measure: `price entries at ${fmt(positions)} open positions${waiting} (${
      r.triggeringPct.toFixed(2)
    } % triggering)`,
    value: r.entriesPerSec,
    unit: "entries/s",
    reference: { label: "bare Map update per quote", value: r.bareEntriesPerSec },
    target: "≥ 1,000,000 at 100k",
  });
  console.log(
    `  ${fmt(r.positions).padStart(7)} open positions${waiting}: ${
      fmt(r.entriesPerSec).padStart(10)
    } entries/s` +
      `  (${r.triggeringPct.toFixed(2)} % of entries triggered, ${fmt(r.closesFired)} closes)`,
  );
}
if (runs("pairs")) {
  console.log("\n(b) open+close instruction pairs/s (target >= 200,000)");
  const pairs = benchPairs(quick ? 50_000 : 500_000);
  console.log(`  ${fmt(pairs.pairsPerSec)} pairs/s over ${fmt(pairs.pairs)} pairs`);
  rows.push({
    section: "engine core",
    measure: "open+close instruction pairs",
    value: pairs.pairsPerSec,
    unit: "pairs/s",
    target: "≥ 200,000",
  });
}
if (runs("snapshot")) {
  console.log("\n(c) snapshot of 100k accounts + 100k positions (target encode <= 300 ms)");
  const snap = benchSnapshot(quick ? 10_000 : 100_000);
  snapshotRow = {
    section: "snapshot",
    measure: `encode ${fmt(snap.accounts)} accounts + ${fmt(snap.positions)} positions in one go (${
      (snap.bytes / 1_048_576).toFixed(1)
    } MiB; decode ${snap.decodeMs.toFixed(0)} ms)`,
    value: snap.encodeMs,
    unit: "ms",
    target: "≤ 300 ms",
  };
  console.log(
    `  encode ${snap.encodeMs.toFixed(0)} ms (in one go), sha-256 ${snap.hashMs.toFixed(0)} ms, ` +
      `decode ${snap.decodeMs.toFixed(0)} ms, size ${(snap.bytes / 1_048_576).toFixed(1)} MiB ` +
      `(${fmt(snap.accounts)} accounts, ${fmt(snap.positions)} positions)`,
  );
  console.log(
    `  engine loop stall while snapshotting: capture ${snap.captureMs.toFixed(1)} ms, ` +
      `then parts of at most ${snap.longestPartMs.toFixed(1)} ms between batches`,
  );
}
if (runs("snapshot") && typeof snapshotRow !== "undefined") rows.push(snapshotRow);
if (Deno.args.includes("--rows")) console.log(`BENCH_ROWS ${JSON.stringify(rows)}`);
