/**
 * The poller as a library (its processes are `main.ts` and `sim_main.ts`): the Backpack
 * bookTicker client, the frame normalizer, and the simulator speaking Backpack's protocol.
 */
export { BackpackFeed, type FeedOptions, type FeedState } from "./backpack.ts";
export { type Normalized, normalizeFrame } from "./normalize.ts";
export {
  DEFAULT_SIM_MARKETS,
  type SimMarket,
  type SimOptions,
  type Simulator,
  startSimulator,
} from "./sim.ts";
