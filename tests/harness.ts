/**
 * Cross-process test harness: what tests share with the benchmarks (`@trading/testing`: the
 * processes against a private Redis database and a fresh Postgres database, waits, HTTP), and
 * what only tests use: `withEnv`, paging through open positions, a WebSocket client.
 */
import { Env, type EnvOptions, http } from "@trading/testing";

export {
  Env,
  eventually,
  freePort,
  GENEROUS_LIMITS,
  http,
  type HttpResult,
  JWT_SECRET,
  type LogRecord,
  logRecords,
  newUser,
  type Proc,
  readyRecord,
  sleep,
  waitForPrices,
} from "@trading/testing";

/** Runs `body` with a fresh environment, adding the processes' logs to its error if it fails. */
export async function withEnv(
  extraEnv: Record<string, string>,
  body: (env: Env) => Promise<void>,
  options: EnvOptions = {},
): Promise<void> {
  const env = await Env.create(extraEnv, options);
  try {
    await body(env);
  } catch (error) {
    // In the error itself, so the logs land in the failure summary at the end of the output
    // (all a truncated CI log may keep), not only in the test's own output far above it.
    const logs = env.logs(12);
    if (error instanceof Error) error.message += `\n--- last process logs ---\n${logs}`;
    else console.error(logs);
    throw error;
  } finally {
    await env.close();
  }
}

/** Every open position of a user, read page by page (`/trades/open` pages at 500 at most). */
export async function allOpenTrades<T = { orderId: string }>(
  base: string,
  token: string,
): Promise<T[]> {
  const trades: T[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? "?limit=500" : `?limit=500&cursor=${cursor}`;
    const page = await http<{ trades: T[]; nextCursor: string | null }>(
      base,
      "GET",
      `/trades/open${query}`,
      { token },
    );
    if (page.status !== 200) throw new Error(`/trades/open: ${page.status}`);
    trades.push(...page.body.trades);
    cursor = page.body.nextCursor;
  } while (cursor !== null);
  return trades;
}

/** A WebSocket client that records every message. */
export class WsClient {
  readonly messages: Array<Record<string, unknown>> = [];
  closeCode: number | undefined;
  private constructor(readonly socket: WebSocket) {}

  static async connect(url: string): Promise<WsClient> {
    const socket = new WebSocket(url);
    const client = new WsClient(socket);
    socket.onmessage = (event) => client.messages.push(JSON.parse(String(event.data)));
    socket.onclose = (event) => client.closeCode = event.code;
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = reject;
    });
    return client;
  }

  send(message: unknown): void {
    this.socket.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  orders(): Array<Record<string, unknown>> {
    return this.messages.filter((m) => m.type === "order");
  }

  close(): void {
    this.socket.close();
  }
}
