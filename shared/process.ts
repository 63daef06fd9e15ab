/** Start-up shared by every process: configuration (or one clear line and exit 2) and a logger. */

/** Exit code for a failure a restart cannot fix (e.g. a gap in engine:input): not retried. */
export const EXIT_FATAL = 3;
import { type Config, ConfigError, loadConfig } from "./config.ts";
import { createLogger, type Logger } from "./log.ts";

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
