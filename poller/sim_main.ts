/** `deno task sim`: the Backpack simulator on SIM_PORT (default 3002). */
import { createLogger } from "@trading/shared/log";
import { onShutdown } from "@trading/shared/process";
import { startSimulator } from "./sim.ts";

const port = Number(Deno.env.get("SIM_PORT") ?? 3002);
const ratePerSec = Number(Deno.env.get("SIM_RATE") ?? 5);
const seed = Number(Deno.env.get("SIM_SEED") ?? 42);
const volatilityBps = Number(Deno.env.get("SIM_VOLATILITY_BPS") ?? 2);
const sim = startSimulator({
  port,
  ratePerSec,
  seed,
  volatilityBps,
  onListen: (p) =>
    console.log(
      JSON.stringify({
        level: "info",
        service: "sim",
        msg: "simulator listening",
        ready: true,
        port: p,
      }),
    ),
});
onShutdown(createLogger("sim"), "sim", [["simulator", () => sim.close()]]);
