/** Everything the HTTP layer depends on, passed in so tests substitute real local instances. */
import type { Logger } from "@trading/shared/log";
import type { Registry } from "@trading/shared/metrics";
import type { TrustedProxies } from "@trading/shared/client_address";
import type { EngineGateway } from "./engine_client.ts";
import type { PasswordHasher } from "./auth/passwords.ts";
import type { UserStore } from "./stores/users.ts";
import type { HistoryStore } from "./stores/history.ts";
import type { CandleStore } from "./stores/candles.ts";

export interface HealthReport {
  redis: boolean;
  postgres: boolean;
  engine: boolean;
  engineLastId?: string;
  /** SHA-256 of the engine's state at `stateHashId` (its latest snapshot). */
  stateHash?: string;
  stateHashId?: string;
}

export interface ApiDeps {
  engine: EngineGateway;
  users: UserStore;
  history: HistoryStore;
  /** `GET /candles` (no auth); answered 503 where absent. */
  candles?: CandleStore;
  passwords: PasswordHasher;
  jwtSecret: string;
  log: Logger;
  health: () => Promise<HealthReport>;
  nowMs?: () => number;
  newId?: () => string;
  engineTimeoutMs?: number;
  /** Where request counts and latencies go; the app makes its own when absent. */
  metrics?: Registry;
  /** Browser origins allowed by CORS; none when absent. */
  corsOrigins?: readonly string[];
  /**
   * Signin attempts a minute per (email, IP) pair; an IP gets 5 times as many across emails and
   * an email 10 times as many across IPs (10 when absent).
   */
  signinLimitPerMinute?: number;
  /** Per user: trading calls (token bucket); 20 a second, bursts of 40 (the README's defaults), when absent. */
  tradeRate?: Rate;
  /** Per user: all authenticated calls; 100 a second, bursts of 200, when absent. */
  userRate?: Rate;
  /** Per client IP: signups a minute (10 when absent). */
  signupsPerMinute?: number;
  /**
   * Per client IP: `GET /candles` reads, each up to 1,000 rows from Postgres; 10 a second,
   * bursts of 20, when absent.
   */
  candleReadRate?: Rate;
  /**
   * Peers whose X-Forwarded-For gives the client's address for the per-IP limits
   * (TRUSTED_PROXIES); nobody's when absent.
   */
  trustedProxies?: TrustedProxies;
  /** Keys each limiter remembers at most, least recently used forgotten first (100,000). */
  limiterMaxKeys?: number;
}

/** A token bucket's refill rate and capacity. */
export interface Rate {
  perSecond: number;
  burst: number;
}

export type AppEnv = {
  /** `idempotencyKey`: set for the keyed paths (idempotency.ts) before anything else runs. */
  Variables: { userId: string; idempotencyKey: string };
};
