/** Shared pieces of the benchmark suite: result rows, the table, the result files. */
import * as hdr from "hdr-histogram-js";

export interface Row {
  section: string;
  measure: string;
  value: number;
  unit: string;
  /** What the same run measured for the reference, and what that reference is. */
  reference?: { label: string; value: number };
  target?: string;
}

export function ratio(row: Row): number | undefined {
  return row.reference && row.reference.value > 0 ? row.value / row.reference.value : undefined;
}

const fmt = (n: number) =>
  n >= 100
    ? Math.round(n).toLocaleString("en-US")
    : n.toLocaleString("en-US", { maximumFractionDigits: 2 });

export function markdownTable(rows: readonly Row[]): string {
  const lines = [
    "| section | measure | value | reference | ratio | target |",
    "|---|---|---|---|---|---|",
  ];
  for (const row of rows) {
    const r = ratio(row);
    lines.push(
      `| ${row.section} | ${row.measure} | ${fmt(row.value)} ${row.unit} | ` +
        `${
          row.reference ? `${fmt(row.reference.value)} ${row.unit} (${row.reference.label})` : "—"
        } | ` +
        `${r === undefined ? "—" : r.toFixed(2)} | ${row.target ?? ""} |`,
    );
  }
  return lines.join("\n");
}

export async function writeResults(
  rows: readonly Row[],
  meta: Record<string, unknown>,
): Promise<string> {
  const dir = new URL("./results/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  const stamp = new Date().toISOString().replaceAll(":", "-").slice(0, 19);
  const json = new URL(`bench-${stamp}.json`, dir);
  const md = new URL(`bench-${stamp}.md`, dir);
  await Deno.writeTextFile(json, JSON.stringify({ ...meta, rows }, null, 2));
  await Deno.writeTextFile(
    md,
    `# Benchmark ${stamp}\n\n${JSON.stringify(meta)}\n\n${markdownTable(rows)}\n`,
  );
  return md.pathname;
}

/** A latency histogram in microseconds. */
export function histogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * CPU seconds the whole machine has spent busy so far (all cores: user, system, interrupts; not
 * the time the hypervisor took away), from /proc/stat; NaN where there is none. It counts what
 * per-process figures miss: the kernel's own work and other processes such as Postgres.
 */
export function machineBusySeconds(): number {
  try {
    const line = Deno.readTextFileSync("/proc/stat").split("\n")[0]!;
    const [user, nice, system, , , irq, softirq] = line.trim().split(/\s+/).slice(1).map(Number);
    return (user! + nice! + system! + irq! + softirq!) / 100;
  } catch {
    return Number.NaN;
  }
}

/** User + system CPU seconds a process has used so far (Linux /proc), or NaN when unreadable. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the line, in clock ticks (100 per second).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/**
 * CPU time from now on, of each process named (by pid) and of the whole machine: call the
 * result to read what each has spent since, in seconds (NaN for a process it cannot read).
 */
export function cpuMeter(
  pids: Readonly<Record<string, number>>,
): () => { processes: Record<string, number>; machine: number; wallSeconds: number } {
  const before = Object.entries(pids).map(([name, pid]) => [name, pid, cpuSeconds(pid)] as const);
  const machineBefore = machineBusySeconds();
  const wallBefore = performance.now();
  return () => ({
    processes: Object.fromEntries(
      before.map(([name, pid, seconds]) => [name, cpuSeconds(pid) - seconds]),
    ),
    machine: machineBusySeconds() - machineBefore,
    wallSeconds: (performance.now() - wallBefore) / 1000,
  });
}

/** The hop floor's streams (bench/hop_floor_server.ts, bench/hop_floor_echo.ts): its own. */
export const FLOOR_INPUT_STREAM = "{bench}:floor:in";
export const floorReplyStream = (serverId: string): string => `{bench}:floor:reply:${serverId}`;

/**
 * How busy the machine is while the benchmark does nothing (% of all its cores, over `ms`):
 * what whole-machine figures then include of other work (another job on a shared machine, an
 * idle system's timers). Printed next to them, so a noisy run is seen for what it is.
 */
export async function idleBusyPercent(ms = 1000): Promise<number> {
  const before = machineBusySeconds();
  const started = performance.now();
  await sleep(ms);
  const wall = (performance.now() - started) / 1000;
  return (machineBusySeconds() - before) * 100 / (wall * navigator.hardwareConcurrency);
}
