/**
 * Start-up and shutdown shared by every process: configuration (or one clear line and exit 2),
 * a logger, one way to stop on SIGINT/SIGTERM, and one way to stop for good (EXIT_FATAL).
 */

/** Exit code for a failure a restart cannot fix (e.g. a gap in engine:input): not retried. */
export const EXIT_FATAL = 3;
import { type Config, ConfigError, loadConfig } from "./config.ts";
import { createLogger, type Logger } from "./log.ts";
import { withTimeout } from "./wait.ts";

/** The configuration from the environment, or its problem in one line and exit 2. */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    Deno.exit(2);
  }
}

export function startProcess(
  service: string,
  options: { needsDatabase?: boolean; needsJwtSecret?: boolean } = {},
): { config: Config; log: Logger; databaseUrl: string; jwtSecret: string } {
  const config = loadConfigOrExit();
  const log = createLogger(service, config.logLevel);
  if (options.needsDatabase && config.databaseUrl === undefined) {
    log.error("DATABASE_URL is required (deno task start provides one)");
    Deno.exit(2);
  }
  if (options.needsJwtSecret && config.jwtSecret === undefined) {
    log.error("JWT_SECRET is required (at least 32 bytes; deno task demo makes one)");
    Deno.exit(2);
  }
  // Checked above when needed; "" only for processes that never use them.
  return {
    config,
    log,
    databaseUrl: config.databaseUrl ?? "",
    jwtSecret: config.jwtSecret ?? "",
  };
}

/**
 * Stops the process for good: the reason in one error line with its figures, and EXIT_FATAL,
 * which the supervisor does not restart. Synchronous: nothing else of the process runs after.
 */
export function exitFatal(log: Logger, message: string, fields?: Record<string, unknown>): never {
  log.error(message, fields);
  Deno.exit(EXIT_FATAL);
}

/** One step of a shutdown: a name for the log, and what it does (sync or async). */
export type ShutdownStep = readonly [name: string, run: () => unknown];

export interface ShutdownOptions {
  /** More fields for the "<name> stopping" line, read when the signal arrives. */
  fields?: () => Record<string, unknown>;
  /** How long one step may take before the next one starts anyway (default 5 s). */
  stepTimeoutMs?: number;
  /** The signals that stop the process (default SIGINT and SIGTERM). */
  signals?: readonly Deno.Signal[];
  /** What ends the process (default Deno.exit; tests pass their own). */
  exit?: (code: number) => void;
}

/**
 * Every process's shutdown: on SIGINT or SIGTERM, once (Ctrl-C reaches a process twice: the
 * terminal's SIGINT, then the supervisor's SIGTERM), logs "<name> stopping", runs `steps` in
 * order, each given at most `stepTimeoutMs` (a step that fails or hangs is logged and the next
 * one runs), then exits 0. Returns the stop function, which a signal calls.
 */
export function onShutdown(
  log: Logger,
  name: string,
  steps: readonly ShutdownStep[],
  options: ShutdownOptions = {},
): (signal: string) => Promise<void> {
  const stepTimeoutMs = options.stepTimeoutMs ?? 5_000;
  const exit = options.exit ?? ((code: number) => Deno.exit(code));
  let stopping: Promise<void> | undefined;
  const stop = (signal: string): Promise<void> => {
    stopping ??= (async () => {
      log.info(`${name} stopping`, { signal, ...options.fields?.() });
      for (const [step, run] of steps) {
        const failed: { error?: unknown } = {};
        const finished = await withTimeout(
          Promise.resolve().then(run).then(() => true, (error) => {
            failed.error = error;
            return true;
          }),
          stepTimeoutMs,
          false,
        );
        if (!finished) {
          log.warn("shutdown step timed out; going on", { step, timeoutMs: stepTimeoutMs });
        } else if ("error" in failed) {
          log.warn("shutdown step failed; going on", { step, error: failed.error });
        }
      }
      exit(0);
    })();
    return stopping;
  };
  for (const signal of options.signals ?? ["SIGINT", "SIGTERM"]) {
    Deno.addSignalListener(signal, () => void stop(signal));
  }
  return stop;
}
