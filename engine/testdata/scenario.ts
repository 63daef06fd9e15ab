/**
 * Golden scenario files: a short table of input entries (wire form) and what the engine must
 * say and hold afterwards. `t` is the entry's stream time in ms; its ID is `${t}-${index}`.
 */
import type { EngineOutput } from "@trading/shared/schemas";
import { applyFields } from "../core/step.ts";
import { createState, DEFAULT_PARAMS, type EngineParams, type EngineState } from "../core/state.ts";

export interface ScenarioEntry {
  t: number;
  [field: string]: string | number;
}

export interface ScenarioExpectation {
  outputs: EngineOutput[];
  balances: Record<string, string>;
  locked: Record<string, string>;
  houseCents: string;
  openOrders: string[];
  /** Reserved margin per account and the pending orders' IDs: kept by scenarios that have any. */
  pending?: Record<string, string>;
  pendingOrders?: string[];
}

export interface Scenario {
  description: string;
  params?: Partial<Record<keyof EngineParams, number>>;
  entries: ScenarioEntry[];
  expect: ScenarioExpectation;
}

export interface ScenarioRun {
  state: EngineState;
  actual: ScenarioExpectation;
}

export function runScenario(scenario: Scenario): ScenarioRun {
  const overrides = scenario.params ?? {};
  const state = createState({
    ...DEFAULT_PARAMS,
    ...overrides,
    demoCreditCents: overrides.demoCreditCents === undefined
      ? DEFAULT_PARAMS.demoCreditCents
      : BigInt(overrides.demoCreditCents),
  } as EngineParams);
  const outputs: EngineOutput[] = [];
  scenario.entries.forEach((entry, index) => {
    const { t, ...fields } = entry;
    outputs.push(...applyFields(state, fields, `${t}-${index}`).outputs);
  });
  const balances: Record<string, string> = {};
  const locked: Record<string, string> = {};
  const pending: Record<string, string> = {};
  for (const account of state.accounts.values()) {
    balances[account.userId] = account.balanceCents.toString();
    locked[account.userId] = account.lockedCents.toString();
    pending[account.userId] = account.pendingCents.toString();
  }
  // Scenarios from before pending orders never reserve anything: they keep their shape.
  const pendingSeen = scenario.expect?.pending !== undefined ||
    scenario.entries.some((entry) => entry.orderType !== undefined);
  return {
    state,
    actual: {
      outputs,
      balances,
      locked,
      houseCents: state.houseCents.toString(),
      openOrders: [...state.positions.keys()].map(String),
      ...(pendingSeen ? { pending, pendingOrders: [...state.pending.keys()].map(String) } : {}),
    },
  };
}
