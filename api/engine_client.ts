/**
 * The API's link to the engine: appends instructions to the input stream, each addressed to this
 * process (`replyTo`: its `API_ID`), and resolves each waiting request when its answer appears on
 * this process's own reply stream. One XREAD on its own connection follows the reply stream and
 * the prices stream together, from the IDs it last saw (their ends at boot, by explicit ID,
 * never "$" in a loop, which would drop entries between reads). No other process's answers, and
 * no order events, ever reach it (docs/design.md §1).
 */
import type { Asset } from "@trading/shared/assets";
import { isAsset } from "@trading/shared/assets";
import type { Logger } from "@trading/shared/log";
import {
  INPUT_STREAM,
  lastStreamId,
  PRICES_STREAM,
  type RedisClient,
  replyStream,
} from "@trading/shared/redis";
import { followStreams } from "@trading/shared/stream_reader";
import { sleep } from "@trading/shared/wait";
import {
  type Answer,
  decodeOutput,
  encodeInput,
  type InstructionEntry,
  outputHeader,
} from "@trading/shared/schemas";

/** A quote as the API shows it (`/prices`, the slippage reference): decimal strings. */
export interface ApiQuote {
  bid: string;
  ask: string;
  ts: number;
}

/** An instruction as a route asks it: `EngineGateway.request` gives each its own requestId. */
export type EngineRequest = InstructionEntry extends infer E
  ? E extends unknown ? Omit<E, "requestId"> : never
  : never;

/** What the HTTP layer needs from an engine; `EngineClient` is the Redis-backed one. */
export interface EngineGateway {
  /** Sends an instruction (a requestId is added) and waits for its answer. */
  request(entry: EngineRequest, timeoutMs?: number): Promise<Answer>;
  /** Appends an instruction without waiting for its answer. */
  send(entry: InstructionEntry): Promise<string>;
  latestQuote(asset: Asset): ApiQuote | undefined;
  quotes(): Map<Asset, ApiQuote>;
}

export class EngineTimeoutError extends Error {
  override name = "EngineTimeoutError";
}

export class EngineUnavailableError extends Error {
  override name = "EngineUnavailableError";
}

interface Pending {
  resolve: (answer: Answer) => void;
  timer: ReturnType<typeof setTimeout>;
}

export interface EngineClientOptions {
  redis: RedisClient;
  reader: RedisClient;
  /** This process's id: its reply stream's name, in every instruction it sends. */
  apiId: string;
  log: Logger;
  newRequestId: () => string;
  timeoutMs?: number;
  blockMs?: number;
}

export class EngineClient implements EngineGateway {
  readonly #pending = new Map<string, Pending>();
  readonly #quotes = new Map<Asset, ApiQuote>();
  #running = false;
  #done: Promise<void> | undefined;
  /** Wall-clock ms of the last successful read, for the reader watchdog and /health. */
  lastReadAtMs = 0;

  constructor(private readonly options: EngineClientOptions) {}

  async start(): Promise<void> {
    const { redis, apiId } = this.options;
    const [replyAfter, pricesAfter] = await Promise.all([
      lastStreamId(redis, replyStream(apiId)),
      lastStreamId(redis, PRICES_STREAM),
    ]);
    await this.#primeQuotes();
    this.#running = true;
    this.#done = this.#run({ [replyStream(apiId)]: replyAfter, [PRICES_STREAM]: pricesAfter });
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }

  async send(entry: InstructionEntry): Promise<string> {
    const fields = Object.entries(encodeInput(entry)).flat();
    try {
      return (await this.options.redis.xadd(INPUT_STREAM, "*", ...fields))!;
    } catch (error) {
      throw new EngineUnavailableError(`cannot reach Redis: ${(error as Error).message}`);
    }
  }

  request(entry: EngineRequest, timeoutMs = this.options.timeoutMs ?? 5000): Promise<Answer> {
    const requestId = this.options.newRequestId();
    return new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(requestId);
        reject(new EngineTimeoutError("the engine did not answer in time"));
      }, timeoutMs);
      this.#pending.set(requestId, { resolve, timer });
      this.send({ ...entry, requestId, replyTo: this.options.apiId } as InstructionEntry).catch(
        (error) => {
          clearTimeout(timer);
          this.#pending.delete(requestId);
          reject(error);
        },
      );
    });
  }

  latestQuote(asset: Asset): ApiQuote | undefined {
    return this.#quotes.get(asset);
  }

  quotes(): Map<Asset, ApiQuote> {
    return this.#quotes;
  }

  /** Latest quotes from the recent past of the prices stream, so /prices answers at once. */
  async #primeQuotes(): Promise<void> {
    const recent = await this.options.redis.xrevrange(PRICES_STREAM, "+", "-", "COUNT", 50);
    for (const [, flat] of (recent as Array<[string, string[]]>).reverse()) this.#take(flat);
  }

  #take(flat: string[]): void {
    // Answers to requests that timed out are skipped unparsed.
    const header = outputHeader(flat);
    if (header.kind === "answer" && !this.#pending.has(header.requestId ?? "")) return;
    const output = decodeOutput(flat);
    if (output === undefined) return;
    if (output.kind === "price") {
      if (isAsset(output.asset)) {
        this.#quotes.set(output.asset, { bid: output.bid, ask: output.ask, ts: output.ts });
      }
      return;
    }
    if (output.kind !== "answer") return;
    const pending = this.#pending.get(output.requestId);
    if (pending === undefined) return;
    this.#pending.delete(output.requestId);
    clearTimeout(pending.timer);
    pending.resolve(output);
  }

  async #run(streams: Record<string, string>): Promise<void> {
    const { reader, log } = this.options;
    const batches = followStreams({
      reader,
      streams,
      count: 1000,
      blockMs: this.options.blockMs ?? 1000,
      running: () => this.#running,
      log,
      retryMessage: "reply read failed; retrying",
    });
    for await (const batch of batches) {
      this.lastReadAtMs = Date.now();
      for (const entries of batch.values()) {
        for (const [, flat] of entries) {
          try {
            this.#take(flat);
          } catch (error) {
            // Should one output ever fail here, the reader goes on with the next after the
            // pause of a failed read: the answers must keep flowing.
            log.warn("reply read failed; retrying", { error });
            await sleep(200);
          }
        }
      }
    }
  }
}
