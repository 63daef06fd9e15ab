/**
 * `deno task bench`: the whole suite against real Redis and Postgres, each figure next to a
 * reference measured in the same run. Prints a table and writes JSON and Markdown under
 * bench/results/. `--quick` runs smaller sizes (a smoke run, not for quoting). `--cluster` runs
 * the sections that use Redis (pipeline, http, horizontal, tail, gateway, recovery) on a private
 * 3-master Redis Cluster instead of one Redis (REDIS_CLUSTER_NODES for every process).
 */
import { startRedisCluster } from "@trading/testing";
import { markdownTable, type Row, writeResults } from "./lib.ts";
import { ensureServices } from "./services.ts";

const quick = Deno.args.includes("--quick");
const only = Deno.args.find((a) => a.startsWith("--only="))?.slice(7);
const runs = (part: string) => only === undefined || only.split(",").includes(part);
const root = new URL("../", import.meta.url).pathname;
const rows: Row[] = [];
const cluster = Deno.args.includes("--cluster") ? await startRedisCluster() : undefined;
/** What each section's process gets beyond ours: the cluster every Env of it uses. */
const sectionEnv: Record<string, string> = cluster === undefined
  ? {}
  : { TEST_REDIS_CLUSTER_NODES: cluster.nodes };

/** Runs one of the engine's standalone benchmarks and takes its rows. */
async function script(path: string, ...extra: string[]): Promise<Row[]> {
  const args = ["run", "-A", path, ...extra, "--rows", ...(quick ? ["--quick"] : [])];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: root,
    env: sectionEnv,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const text = new TextDecoder().decode((await child.output()).stdout);
  for (const line of text.split("\n")) if (!line.startsWith("BENCH_ROWS")) console.log(line);
  const line = text.split("\n").find((l) => l.startsWith("BENCH_ROWS "));
  if (line === undefined) throw new Error(`${path} printed no rows`);
  return JSON.parse(line.slice("BENCH_ROWS ".length));
}

await ensureServices();
console.log(
  `benchmark suite — ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}${
    quick ? " (quick)" : ""
  }${cluster === undefined ? "" : `, on a 3-master Redis Cluster (${cluster.nodes})`}\n`,
);
if (runs("core")) rows.push(...await script("engine/bench/core_bench.ts"));
// Each section in a fresh process: none measures with the heap of the one before it.
for (const section of ["pipeline", "http", "horizontal", "tail", "gateway", "writers"]) {
  if (runs(section)) rows.push(...await script("bench/section.ts", section));
}
if (runs("recovery")) rows.push(...await script("engine/bench/recovery_bench.ts"));
if (runs("memory")) rows.push(...await script("engine/bench/memory_bench.ts"));

const table = markdownTable(rows);
console.log(`\n${table}\n`);
const file = await writeResults(rows, {
  deno: Deno.version.deno,
  cores: navigator.hardwareConcurrency,
  quick,
  cluster: cluster !== undefined,
});
console.log(`written to ${file} (and .json beside it)`);
await cluster?.destroy();
