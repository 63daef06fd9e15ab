/**
 * Tail vs hop floor: the system's trade latency (p50 / p99 / p99.9) at a few fixed rates, next
 * to a hop floor measured in the same run with the same open-loop load generator. A trade is
 * what bench/http.ts counts: trade/create, then trade/close of the order it opened, its latency
 * from its planned start to the close's answer (so a stall shows, instead of slowing the
 * generator down). The floor makes the same process hops with no logic: an HTTP process
 * (hop_floor_server.ts: Deno.serve, XADD, its own reply stream followed by one blocking XREAD
 * loop) and an echo process (hop_floor_echo.ts: a blocking XREAD loop answering each batch in
 * one MULTI), on the same Redis with the same client settings, under private stream names. What
 * the system's tail has beyond the floor's is its logic and its scheduling, not the hops.
 * Each rate also gives the whole machine's CPU per trade of both (from /proc/stat).
 */
import { eventually, freePort } from "@trading/testing";
import { CONNECTIONS, openLoop, startTradingSystem } from "./http.ts";
import { HttpPool } from "./http_client.ts";
import {
  cpuMeter,
  FLOOR_INPUT_STREAM,
  floorReplyStream,
  idleBusyPercent,
  type Row,
} from "./lib.ts";

const FLOOR_ID = "bench-floor-1";

interface Run {
  p50: number;
  p99: number;
  p999: number;
  errors: number;
  count: number;
  /** Whole machine's CPU µs per trade. */
  machineMicros: number;
  /** Each named process's CPU µs per trade. */
  processMicros: Record<string, number>;
  busyPercent: number;
  /** The load generator's own lateness at p99 (ms): how late creates left it. */
  lateP99: number;
}

const micros = (n: number) => Number.isNaN(n) ? "n/a" : String(Math.round(n));
const ms = (n: number) => n.toFixed(1);

export interface TailOptions {
  /** Trades per second, each run once through the floor, then once through the system. */
  rates: readonly number[];
  /** Each rate runs for this long at least, and for `minTrades` trades at least. */
  minSeconds: number;
  minTrades: number;
  /** Unrecorded trades through each before the first rate (JIT, connections). */
  warmupSeconds: number;
  /** How long the machine's idle load is sampled before and after (see idleBusyPercent). */
  idleMs: number;
}

export async function tailBench(
  { rates, minSeconds, minTrades, warmupSeconds, idleMs }: TailOptions,
): Promise<Row[]> {
  const system = await startTradingSystem();
  const { env, users } = system;
  try {
    const floorPort = freePort();
    const echo = env.spawn("floor-echo", "bench/hop_floor_echo.ts");
    await eventually("the hop floor's echo", () => echo.ready());
    const server = env.spawn("floor-server", "bench/hop_floor_server.ts", {}, [
      String(floorPort),
      FLOOR_ID,
    ]);
    await eventually("the hop floor's server", () => server.ready());
    const systemPool = new HttpPool(env.ports.api, CONNECTIONS);
    const floorPool = new HttpPool(floorPort, CONNECTIONS);
    await eventually(
      "an answer through the hop floor",
      () => floorPool.post("/api/v1/trade/create", "", "{}").then((a) => a.status === 200),
    );
    const systemPids = {
      api: system.api.child.pid,
      engine: system.engine.child.pid,
      redis: system.redisPid,
      "load generator": Deno.pid,
    };
    const floorPids = {
      "floor server": server.child.pid,
      "floor echo": echo.child.pid,
      redis: system.redisPid,
      "load generator": Deno.pid,
    };
    const measure = async (
      pool: HttpPool,
      pids: Record<string, number>,
      rate: number,
      seconds: number,
    ): Promise<Run> => {
      const read = cpuMeter(pids);
      const { latency, lateness, errors, count } = await openLoop([pool], users, rate, seconds);
      const cpu = read();
      if (errors > count / 10) {
        throw new Error(`${errors} of ${count} trades failed at ${rate}/s: the system is not well`);
      }
      const p = (q: number) => latency.getValueAtPercentile(q) / 1000;
      return {
        p50: p(50),
        p99: p(99),
        p999: p(99.9),
        errors,
        count,
        machineMicros: cpu.machine * 1e6 / count,
        processMicros: Object.fromEntries(
          Object.entries(cpu.processes).map(([name, s]) => [name, s * 1e6 / count]),
        ),
        busyPercent: cpu.machine * 100 / (cpu.wallSeconds * navigator.hardwareConcurrency),
        lateP99: lateness.getValueAtPercentile(99) / 1000,
      };
    };
    // The floor runs without the system's price feed, so its CPU is the floor's alone.
    const floorRun = async (rate: number, seconds: number) => {
      system.pauseFeed();
      try {
        return await measure(floorPool, floorPids, rate, seconds);
      } finally {
        await system.resumeFeed();
      }
    };
    // Unrecorded warm-up: JIT and connections, not the processes, at first.
    if (warmupSeconds > 0) {
      await openLoop([systemPool], users, rates[0]!, warmupSeconds);
      await floorRun(rates[0]!, warmupSeconds);
    }
    system.pauseFeed();
    const idleBefore = await idleBusyPercent(idleMs);
    await system.resumeFeed();
    const rows: Row[] = [];
    for (const rate of rates) {
      const seconds = Math.max(minSeconds, minTrades / rate);
      const floor = await floorRun(rate, seconds);
      const sys = await measure(systemPool, systemPids, rate, seconds);
      const describe = (run: Run) =>
        `p50 ${ms(run.p50)} ms, p99 ${ms(run.p99)} ms, p99.9 ${ms(run.p999)} ms, ` +
        `errors ${run.errors}, sent late p99 ${ms(run.lateP99)} ms; CPU µs per trade: ${
          Object.entries(run.processMicros).map(([name, n]) => `${name} ${micros(n)}`).join(", ")
        }; whole machine ${micros(run.machineMicros)} (${Math.round(run.busyPercent)} % busy)`;
      console.log(`  ${rate} trades/s, ${sys.count} trades each:`);
      console.log(`    system: ${describe(sys)}`);
      console.log(`    floor:  ${describe(floor)}`);
      const errors = sys.errors + floor.errors > 0
        ? `; errors: system ${sys.errors}, floor ${floor.errors}`
        : "";
      rows.push({
        section: "tail",
        measure: `trade (create + close) at ${rate}/s, ${sys.count} trades: system p50 ${
          ms(sys.p50)
        } / p99.9 ${ms(sys.p999)} ms; hop floor p50 ${ms(floor.p50)} / p99.9 ${
          ms(floor.p999)
        } ms${errors}`,
        value: sys.p99,
        unit: "ms p99",
        reference: { label: "hop floor's p99, same rate and load generator", value: floor.p99 },
        target: "≤ 1.5× the floor's p99",
      });
      rows.push({
        section: "tail",
        measure: `whole machine CPU per trade at ${rate}/s: system (api ${
          micros(sys.processMicros.api!)
        }, engine ${micros(sys.processMicros.engine!)}, redis ${
          micros(sys.processMicros.redis!)
        }) against the hop floor (server ${micros(floor.processMicros["floor server"]!)}, echo ${
          micros(floor.processMicros["floor echo"]!)
        }, redis ${micros(floor.processMicros.redis!)})`,
        value: Math.round(sys.machineMicros),
        unit: "µs/trade",
        reference: { label: "hop floor", value: Math.round(floor.machineMicros) },
      });
    }
    system.pauseFeed();
    const idle = `machine ${Math.round(idleBefore)} % / ${
      Math.round(await idleBusyPercent(idleMs))
    } % busy while the bench idled, before / after`;
    console.log(`  ${idle}`);
    for (const row of rows) if (row.unit === "µs/trade") row.measure += `; ${idle}`;
    systemPool.close();
    floorPool.close();
    await env.redis.del(FLOOR_INPUT_STREAM, floorReplyStream(FLOOR_ID));
    return rows;
  } catch (error) {
    // What the processes said (the floor's included): a failure is otherwise a bare timeout.
    console.error(env.logs(20));
    throw error;
  } finally {
    await system.close();
  }
}
