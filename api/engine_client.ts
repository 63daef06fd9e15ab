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
  REFUSAL_CODES,
  resultSchema,
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
  /** The newest answer read, and the one the reply stream was last trimmed to. */
  #readThroughId = "0-0";
  #trimmedToId = "0-0";
  #trimTimer: ReturnType<typeof setInterval> | undefined;

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
    // Answers are wanted only until read: the stream is trimmed to what this process has read,
    // once a second, so one user's large answers at its rate cost Redis about a second of them
    // (the engine's cap of ~10,000 is the backstop when this process stalls).
    this.#trimTimer = setInterval(() => this.#trimRead(), REPLY_TRIM_EVERY_MS);
  }

  async stop(): Promise<void> {
    this.#running = false;
    clearInterval(this.#trimTimer);
    await this.#done;
  }

  #trimRead(): void {
    const through = this.#readThroughId;
    if (through === this.#trimmedToId) return;
    this.#trimmedToId = through;
    // MINID keeps `through` itself; "~" trims whole radix nodes only, which is cheap.
    this.options.redis.xtrim(replyStream(this.options.apiId), "MINID", "~", through)
      .catch(() => {}); // Redis away: the next tick tries again, the engine's cap still holds
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
    // Answers to requests that timed out are skipped unparsed; those awaited, checked cheaply.
    const header = outputHeader(flat);
    if (header.kind === "answer") {
      const pending = this.#pending.get(header.requestId ?? "");
      if (pending === undefined) return;
      const answer = decodeAnswer(flat);
      if (answer === undefined) return;
      this.#pending.delete(answer.requestId);
      clearTimeout(pending.timer);
      pending.resolve(answer);
      return;
    }
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
    const replies = replyStream(this.options.apiId);
    for await (const batch of batches) {
      this.lastReadAtMs = Date.now();
      const answers = batch.get(replies);
      if (answers !== undefined) this.#readThroughId = answers[answers.length - 1]![0];
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

const REFUSALS: ReadonlySet<string> = new Set(REFUSAL_CODES);
const REPLY_TRIM_EVERY_MS = 1000;

/** A copy of a value with the keys its schema names, in the schema's order (as zod gives it). */
type Projection = (value: unknown) => unknown;

/** What zod's definitions of the output schemas hold, as far as projecting them needs. */
interface SchemaDef {
  type: string;
  innerType?: { _zod: { def: SchemaDef } };
  element?: { _zod: { def: SchemaDef } };
  shape?: Record<string, { _zod: { def: SchemaDef } }>;
  values?: unknown[];
}

/**
 * The projection of a schema, worked out once from it: objects keep their schema's keys, in its
 * order (zod drops the others and writes the shape's order, which is not always the engine's),
 * arrays project their items, anything else is kept as it is (undefined: nothing to do).
 */
function projectionOf(def: SchemaDef): Projection | undefined {
  if ((def.type === "optional" || def.type === "nullable") && def.innerType) {
    return projectionOf(def.innerType._zod.def);
  }
  if (def.type === "array" && def.element) {
    const item = projectionOf(def.element._zod.def);
    return (value) => Array.isArray(value) && item ? value.map(item) : value;
  }
  if (def.type !== "object" || !def.shape) return undefined;
  const fields = Object.entries(def.shape).map(([key, field]) =>
    [key, projectionOf(field._zod.def)] as const
  );
  return (value) => {
    if (!isRecord(value)) return value;
    const copy: Record<string, unknown> = {};
    for (const [key, project] of fields) {
      if (!Object.hasOwn(value, key)) continue;
      const field = value[key];
      copy[key] = project === undefined ? field : project(field);
    }
    return copy;
  };
}

/** Each result's event, its projection, and the field that holds its list when it has one. */
const RESULTS: ReadonlyMap<string, { project: Projection; list?: string }> = new Map(
  (resultSchema.options as unknown as { _zod: { def: SchemaDef } }[]).map((option) => {
    const def = option._zod.def;
    const event = String(def.shape!.event!._zod.def.values![0]);
    const list = Object.entries(def.shape!).find(([, field]) => field._zod.def.type === "array")
      ?.[0];
    return [event, { project: projectionOf(def)!, ...(list ? { list } : {}) }];
  }),
);

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * An answer from this process's reply stream, without the full schema parse `decodeOutput`
 * makes: only the engine writes there, so its shape is checked, not every field. Undefined for
 * an entry that is not an answer in that shape (never a throw): the routing fields strings, the
 * body a JSON object, a refusal's code one of REFUSAL_CODES and its message a string, a
 * result an object with a known `event` and its list (if it has one) an array. The result is
 * projected on its schema (its keys, in its order: what zod gives, so the routes' JSON is
 * unchanged; api/engine_client_test.ts compares the two), its values not checked: a result that
 * lies about them fails only its own request, in its route (a 500), never the reader loop.
 */
export function decodeAnswer(flat: readonly string[]): Answer | undefined {
  let kind: string | undefined;
  let cause: string | undefined;
  let requestId: string | undefined;
  let userId: string | undefined;
  let text: string | undefined;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const value = flat[i + 1];
    switch (flat[i]) {
      case "kind":
        kind = value;
        break;
      case "cause":
        cause = value;
        break;
      case "requestId":
        requestId = value;
        break;
      case "userId":
        userId = value;
        break;
      case "body":
        text = value;
        break;
    }
  }
  if (
    kind !== "answer" || typeof cause !== "string" || typeof requestId !== "string" ||
    requestId === "" || typeof userId !== "string" || typeof text !== "string"
  ) {
    return undefined;
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(body)) return undefined;
  const replayed = body.replayed;
  if (replayed !== undefined && replayed !== true) return undefined;
  if (body.ok === false) {
    const { code, message } = body;
    if (typeof code !== "string" || !REFUSALS.has(code) || typeof message !== "string") {
      return undefined;
    }
    const refused = { kind, cause, requestId, userId, ok: false as const, code, message };
    return (replayed ? { ...refused, replayed } : refused) as Answer;
  }
  if (body.ok !== true) return undefined;
  const result = body.result;
  if (!isRecord(result) || typeof result.event !== "string") return undefined;
  const shape = RESULTS.get(result.event);
  if (shape === undefined || (shape.list !== undefined && !Array.isArray(result[shape.list]))) {
    return undefined;
  }
  const answer = {
    kind,
    cause,
    requestId,
    userId,
    ok: true as const,
    result: shape.project(result),
  };
  if (replayed) return { ...answer, replayed } as Answer;
  // The account's figures after a change (for its order events; no route reads them here).
  return (isRecord(body.account) ? { ...answer, account: body.account } : answer) as Answer;
}
