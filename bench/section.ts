/**
 * One in-repo benchmark section in a process of its own (`deno run -A bench/section.ts
 * pipeline|http|gateway|horizontal|tail|writers [--quick] --rows`), so no section measures with the heap
 * and the leftover sockets of the one before it. bench/run.ts runs each this way.
 */
import { gatewayBench } from "./gateway.ts";
import { horizontalBench } from "./horizontal.ts";
import { httpBench } from "./http.ts";
import type { Row } from "./lib.ts";
import { pipelineBench } from "./pipeline.ts";
import { tailBench } from "./tail.ts";
import { writersBench } from "./writers.ts";

const quick = Deno.args.includes("--quick");
const section = Deno.args[0];
let rows: Row[];
if (section === "pipeline") {
  console.log("\npipeline…");
  rows = await pipelineBench(quick ? 50_000 : 300_000);
} else if (section === "http") {
  console.log("\nHTTP open loop…");
  rows = await httpBench(
    quick ? [200, 500] : [100, 250, 500, 1000, 1500, 2000, 3000, 4000, 5000, 6000],
    quick ? 1 : 3,
    quick ? 0 : 2000,
  );
} else if (section === "gateway") {
  console.log("\ngateway fan-out…");
  rows = await gatewayBench(quick ? [200] : [1000, 5000], quick ? 10 : 30);
} else if (section === "horizontal") {
  console.log("\nhorizontal: one API process against two…");
  rows = await horizontalBench({
    // What this 2-core machine sustains comfortably through one API process (at 1,000/s one
    // API process takes ~90 % of a core and the whole system ~1.7 cores).
    rate: 500,
    seconds: quick ? 2 : 4,
    rounds: quick ? 1 : 3,
    warmupSeconds: quick ? 1 : 2,
    idleMs: quick ? 500 : 1000,
  });
} else if (section === "tail") {
  console.log("\ntail vs hop floor…");
  rows = await tailBench({
    rates: [100, 500, 1000],
    minSeconds: quick ? 1 : 5,
    minTrades: quick ? 200 : 1500,
    warmupSeconds: quick ? 0.5 : 2,
    idleMs: quick ? 500 : 1000,
  });
} else if (section === "writers") {
  console.log("\nwriters: candles next to history…");
  rows = await writersBench(quick);
} else {
  console.error(
    "usage: bench/section.ts pipeline|http|gateway|horizontal|tail|writers [--quick] [--rows]",
  );
  Deno.exit(2);
}
if (Deno.args.includes("--rows")) console.log(`BENCH_ROWS ${JSON.stringify(rows)}`);
Deno.exit(0);
