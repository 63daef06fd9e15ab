/**
 * What the engine holds per account, measured on its heap: accounts with nothing, and accounts
 * at their caps (MAX_OPEN_POSITIONS open positions and 1,000 remembered idempotency keys, with
 * the API's key and fingerprint lengths and UUID user IDs). Accounts at their caps are measured
 * for a sample and projected to 100k: 100k of them would not fit this machine's memory, which
 * is the point of knowing the figure.
 *
 * `deno run -A --v8-flags=--expose-gc engine/bench/memory_bench.ts [--quick] [--rows]`
 */
import { ASSET_SYMBOLS } from "@trading/shared/assets";
import {
  type CloseEntry,
  encodeInput,
  type InputEntry,
  type InstructionEntry,
  type OpenEntry,
} from "@trading/shared/schemas";
import { captureState, encodeParts } from "../core/snapshot.ts";
import { createState, DEFAULT_PARAMS, type EngineState } from "../core/state.ts";
import { applyFields } from "../core/step.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  // Re-run with a collector we can call: heap figures without it measure garbage.
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--expose-gc", import.meta.filename!, ...Deno.args],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  Deno.exit(code);
}

const quick = Deno.args.includes("--quick");
const EMPTY_ACCOUNTS = quick ? 10_000 : 100_000;
const CAPPED_SAMPLE = quick ? 100 : 1_000;
const PROJECTED_ACCOUNTS = 100_000;
const MIDS = [9_700_000n, 350_000n, 1_500_000n];

function heapBytes(): number {
  for (let i = 0; i < 3; i++) gc!();
  return Deno.memoryUsage().heapUsed;
}

/** Feeds entries one stream millisecond apart, with fresh quotes every 500 entries. */
class Feeder {
  #ms = 1_700_000_000_000;
  #n = 0;
  constructor(readonly state: EngineState) {}

  /** Applies an entry in its wire form, as the engine reads it from engine:input. */
  #apply(entry: InputEntry) {
    return applyFields(this.state, encodeInput(entry), `${this.#ms++}-0`);
  }

  push(entry: InstructionEntry): void {
    if (this.#n++ % 500 === 0) {
      ASSET_SYMBOLS.forEach((asset, i) => {
        const mid = MIDS[i]!;
        const ts = BigInt(this.#ms) * 1000n;
        this.#apply({ kind: "price", asset, bid: mid, ask: mid + 1n, ts });
      });
    }
    const answer = this.#apply(entry).outputs[0];
    if (answer?.kind === "answer" && !answer.ok) {
      throw new Error(`bench bug: ${entry.kind} refused: ${answer.code}`);
    }
  }
}

function addAccounts(feeder: Feeder, count: number): string[] {
  const users: string[] = [];
  for (let i = 0; i < count; i++) {
    const userId = crypto.randomUUID();
    users.push(userId);
    feeder.push({ kind: "create_account", requestId: crypto.randomUUID(), userId });
  }
  return users;
}

/** Keyed as the API keys them: `api-<uuid>` and a 22-character fingerprint. */
function keyed<E extends OpenEntry | CloseEntry>(entry: E): E {
  return {
    ...entry,
    idempotencyKey: `api-${crypto.randomUUID()}`,
    fingerprint: crypto.randomUUID().replaceAll("-", "").slice(0, 22),
  };
}

/** Brings one account to its caps: every position slot open, every key slot used (unless not). */
function fillToCaps(feeder: Feeder, userId: string, withKeys = true): void {
  const { maxOpenPositions, maxIdempotencyKeys } = feeder.state.params;
  const key = withKeys ? keyed : (entry: OpenEntry) => entry;
  const open = (i: number) =>
    feeder.push(key({
      kind: "open",
      requestId: crypto.randomUUID(),
      userId,
      asset: ASSET_SYMBOLS[i % 3]!,
      side: i % 2 === 0 ? "long" : "short",
      marginCents: 100n,
      leverage: 10,
      slippageBps: 10_000,
      expectedPrice: MIDS[i % 3]!,
      stopLoss: MIDS[i % 3]! / 2n * (i % 2 === 0 ? 1n : 3n),
      takeProfit: MIDS[i % 3]! / 2n * (i % 2 === 0 ? 3n : 1n),
    }));
  for (let i = 0; i < maxOpenPositions; i++) open(i);
  if (!withKeys) return;
  let i = maxOpenPositions;
  while (feeder.state.accounts.get(userId)!.idempotencyKeys.size < maxIdempotencyKeys) {
    const account = feeder.state.accounts.get(userId)!;
    const oldest = account.openSeqs.values().next().value!;
    feeder.push(keyed({
      kind: "close",
      requestId: crypto.randomUUID(),
      userId,
      orderId: String(oldest),
    }));
    open(i++);
  }
}

/** Encodes the state in parts, as the engine's snapshotter does, and counts its bytes. */
function snapshotBytes(state: EngineState): number {
  const encoder = new TextEncoder();
  let bytes = 0;
  for (const part of encodeParts(captureState(state))) bytes += encoder.encode(part).length;
  return bytes;
}

const mib = (bytes: number) => (bytes / 1_048_576).toFixed(1);
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

console.log(
  `\n(d) engine memory per account (heap after GC; caps: ${DEFAULT_PARAMS.maxOpenPositions} ` +
    `positions, ${fmt(DEFAULT_PARAMS.maxIdempotencyKeys)} keys)`,
);
let state = createState();
const base = heapBytes();
addAccounts(new Feeder(state), EMPTY_ACCOUNTS);
const emptyPerAccount = (heapBytes() - base) / EMPTY_ACCOUNTS;
console.log(
  `  ${fmt(EMPTY_ACCOUNTS)} empty accounts: ${fmt(emptyPerAccount)} B each, ` +
    `${mib(emptyPerAccount * PROJECTED_ACCOUNTS)} MiB for 100k`,
);

state = createState();
let before = heapBytes();
let unkeyed = new Feeder(state);
for (const userId of addAccounts(unkeyed, CAPPED_SAMPLE)) fillToCaps(unkeyed, userId, false);
snapshotBytes(state); // as in the live engine, whose first snapshot caches each position's row
const perPosition = ((heapBytes() - before) / CAPPED_SAMPLE - emptyPerAccount) /
  DEFAULT_PARAMS.maxOpenPositions;
unkeyed = undefined!;

state = createState();
before = heapBytes();
const feeder = new Feeder(state);
for (const userId of addAccounts(feeder, CAPPED_SAMPLE)) fillToCaps(feeder, userId);
const snapshotPerAccount = snapshotBytes(state) / CAPPED_SAMPLE;
const cappedPerAccount = (heapBytes() - before) / CAPPED_SAMPLE;
const positions = state.positions.size;
const keys = state.idempotency.size;
if (positions !== CAPPED_SAMPLE * DEFAULT_PARAMS.maxOpenPositions) throw new Error("bench bug");
if (keys !== CAPPED_SAMPLE * DEFAULT_PARAMS.maxIdempotencyKeys) throw new Error("bench bug");
console.log(
  `  ${fmt(CAPPED_SAMPLE)} accounts at their caps (${fmt(positions)} positions, ${fmt(keys)} ` +
    `keys): ${fmt(cappedPerAccount)} B each, ${fmt(snapshotPerAccount)} B each in a snapshot`,
);
const perKey =
  (cappedPerAccount - emptyPerAccount - perPosition * DEFAULT_PARAMS.maxOpenPositions) /
  DEFAULT_PARAMS.maxIdempotencyKeys;
console.log(`  of which ${fmt(perPosition)} B an open position, ${fmt(perKey)} B a remembered key`);
console.log(
  `  100k accounts at their caps would hold ${mib(cappedPerAccount * PROJECTED_ACCOUNTS)} MiB ` +
    `of heap (projected from the sample), ${(cappedPerAccount / emptyPerAccount).toFixed(0)}× ` +
    `100k empty accounts`,
);

if (Deno.args.includes("--rows")) {
  const rows = [
    {
      section: "engine memory",
      measure: `heap per account at its caps (${DEFAULT_PARAMS.maxOpenPositions} positions + ${
        fmt(DEFAULT_PARAMS.maxIdempotencyKeys)
      } keys; ${fmt(CAPPED_SAMPLE)} measured)`,
      value: cappedPerAccount,
      unit: "B",
      reference: { label: "an empty account", value: emptyPerAccount },
    },
    {
      section: "engine memory",
      measure: "heap for 100k accounts at their caps (projected)",
      value: cappedPerAccount * PROJECTED_ACCOUNTS / 1_048_576,
      unit: "MiB",
      reference: {
        label: "100k empty accounts",
        value: emptyPerAccount * PROJECTED_ACCOUNTS / 1_048_576,
      },
    },
  ];
  console.log(`BENCH_ROWS ${JSON.stringify(rows)}`);
}
