/**
 * Horizontal efficiency: the whole machine's CPU per create+close pair at one fixed rate through
 * one API process, and the same rate split over two API processes (the load generator alternates
 * the pairs between their ports), against the same engine and Redis in the same run. Adding an
 * API process should add capacity, not work per pair: the target is two/one ≤ 1.1. The second
 * API is stopped (SIGSTOP) through the one-API runs, so they are a one-API system, and the two
 * kinds of run alternate, round after round, so a drift of the machine (other work on it, a
 * warming JIT) falls on both. Pairs are what bench/http.ts counts as trades, sent by its
 * open-loop generator; each API has its own API_ID (its reply stream).
 */
import { freePort } from "@trading/testing";
import { CONNECTIONS, openLoop, startTradingSystem } from "./http.ts";
import { HttpPool } from "./http_client.ts";
import { cpuMeter, idleBusyPercent, type Row } from "./lib.ts";

const API_IDS = ["bench-api-1", "bench-api-2"] as const;

interface Totals {
  pairs: number;
  errors: number;
  machine: number;
  processes: Record<string, number>;
  worstP99: number;
}

const empty = (): Totals => ({ pairs: 0, errors: 0, machine: 0, processes: {}, worstP99: 0 });

export interface HorizontalOptions {
  /** Create+close pairs per second, the same through one API and through two. */
  rate: number;
  /** `rounds` times: `seconds` through one API, then `seconds` through two. */
  seconds: number;
  rounds: number;
  /** Unrecorded pairs through both APIs before the first round. */
  warmupSeconds: number;
  /** How long the machine's idle load is sampled before and after (see idleBusyPercent). */
  idleMs: number;
}

export async function horizontalBench(
  { rate, seconds, rounds, warmupSeconds, idleMs }: HorizontalOptions,
): Promise<Row[]> {
  const system = await startTradingSystem({ API_ID: API_IDS[0] });
  const { env, users } = system;
  try {
    const first = new HttpPool(env.ports.api, CONNECTIONS);
    const basePids = {
      "api-1": system.api.child.pid,
      engine: system.engine.child.pid,
      redis: system.redisPid,
      "load generator": Deno.pid,
    };
    const one = empty();
    const two = empty();
    const run = async (pools: HttpPool[], pids: Record<string, number>, into: Totals) => {
      const read = cpuMeter(pids);
      const { latency, errors, count } = await openLoop(pools, users, rate, seconds);
      const cpu = read();
      if (errors > count / 10) {
        throw new Error(`${errors} of ${count} pairs failed at ${rate}/s: the system is not well`);
      }
      into.pairs += count;
      into.errors += errors;
      into.machine += cpu.machine;
      for (const [name, s] of Object.entries(cpu.processes)) {
        into.processes[name] = (into.processes[name] ?? 0) + s;
      }
      const p99 = latency.getValueAtPercentile(99) / 1000;
      into.worstP99 = Math.max(into.worstP99, p99);
      return `p50 ${(latency.getValueAtPercentile(50) / 1000).toFixed(1)} ms, p99 ${
        p99.toFixed(1)
      } ms, errors ${errors}, machine ${Math.round(cpu.machine * 1e6 / count)} µs/pair`;
    };
    system.pauseFeed();
    const idleBefore = await idleBusyPercent(idleMs);
    await system.resumeFeed();
    const port = freePort();
    const second = await env.startApi(
      { API_ID: API_IDS[1], API_METRICS_PORT: String(freePort()) },
      port,
    );
    const secondPool = new HttpPool(port, CONNECTIONS);
    const twoPids = { ...basePids, "api-2": second.child.pid };
    // Unrecorded: JIT and connections of both processes.
    if (warmupSeconds > 0) await openLoop([first, secondPool], users, rate, warmupSeconds);
    for (let round = 1; round <= rounds; round++) {
      // The second API is stopped (SIGSTOP) through each one-API run: it takes no CPU, so the
      // run is a one-API system, and it stays warm for the next two-API run.
      second.child.kill("SIGSTOP");
      let oneLine: string;
      try {
        oneLine = await run([first], basePids, one);
      } finally {
        second.child.kill("SIGCONT");
      }
      // Unrecorded: woken, its blocking read's watchdog may re-make its connection first.
      await openLoop([first, secondPool], users, rate, 1);
      const twoLine = await run([first, secondPool], twoPids, two);
      console.log(`  round ${round}: one API ${oneLine}; two APIs ${twoLine}`);
    }
    secondPool.close();
    first.close();
    system.pauseFeed();
    const idle = `machine ${Math.round(idleBefore)} % / ${
      Math.round(await idleBusyPercent(idleMs))
    } % busy while the bench idled, before / after`;
    const perPair = (t: Totals, seconds: number) => seconds * 1e6 / t.pairs;
    const oneMicros = perPair(one, one.machine);
    const twoMicros = perPair(two, two.machine);
    const processes = (t: Totals) =>
      Object.entries(t.processes).map(([name, s]) =>
        `${name} ${Number.isNaN(s) ? "n/a" : Math.round(perPair(t, s))}`
      ).join(", ");
    const apis = (t: Totals) =>
      perPair(t, (t.processes["api-1"] ?? 0) + (t.processes["api-2"] ?? 0));
    const errors = one.errors + two.errors > 0
      ? `; errors: one ${one.errors}, two ${two.errors}`
      : "";
    console.log(
      `  ${rate} pairs/s, ${two.pairs} pairs each way: CPU µs per pair, one API: ${
        processes(one)
      }; whole machine ${Math.round(oneMicros)}`,
    );
    console.log(
      `  two APIs: ${processes(two)}; whole machine ${Math.round(twoMicros)}; ratio ${
        (twoMicros / oneMicros).toFixed(2)
      }; ${idle}`,
    );
    return [{
      section: "horizontal",
      measure: `whole machine CPU per create+close pair at ${rate}/s split over two API ` +
        `processes, against one (${one.pairs} pairs each way; µs per pair, two: ${
          processes(two)
        }; one: ${processes(one)}; worst p99 of a run: one ${one.worstP99.toFixed(1)} ms, two ${
          two.worstP99.toFixed(1)
        } ms${errors}; ${idle})`,
      value: Math.round(twoMicros),
      unit: "µs/pair",
      reference: {
        label: "through one API process, same rate, same run",
        value: Math.round(oneMicros),
      },
      target: "ratio ≤ 1.1",
    }, {
      section: "horizontal",
      measure: `API processes' CPU per pair at ${rate}/s, two API processes together against one`,
      value: Math.round(apis(two)),
      unit: "µs/pair",
      reference: { label: "one API process", value: Math.round(apis(one)) },
    }];
  } catch (error) {
    // What the processes said: a failure is otherwise a bare timeout.
    console.error(env.logs(20));
    throw error;
  } finally {
    await system.close();
  }
}
