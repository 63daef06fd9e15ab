/**
 * The one loop that follows a Redis stream. Every read runs under the watchdog (`watchedRead`:
 * after a reconnect ioredis may re-send a blocking read that never returns); a failed read is
 * logged and tried again after a pause, from where it stood, so an outage never ends the loop.
 *
 * It yields one batch per read, empty ones included (a blocking read that timed out), so a
 * consumer can do its idle work. The next read is sent only when the consumer asks for the next
 * batch: a batch is handled before the stream moves on, and nothing is read ahead.
 *
 * A plain read follows the stream by explicit ID from `after` (never "$" in a loop, which drops
 * what arrives between two reads). A group read (XREADGROUP) first takes what this consumer was
 * given but never acknowledged, then new entries; after a failed read, whose reply may have been
 * lost with entries in it, it starts again from the unacknowledged ones (one trimmed meanwhile
 * comes with no fields: see `withFields`). Acknowledging is the consumer's job, once what it read
 * is safe.
 */
import type { Logger } from "./log.ts";
import {
  type RedisClient,
  type StreamEntryBytes,
  type StreamEntryReply,
  watchedRead,
} from "./redis.ts";
import { sleep } from "./wait.ts";

export interface StreamBatch<Entry> {
  /** In stream order; empty when a blocking read timed out or nothing was waiting. */
  entries: readonly Entry[];
  /** The ID of the newest entry read so far (`after`, or "0-0" in a group, before any). */
  lastId: string;
}

interface ReadOptions {
  /** A connection of its own: a blocking read freezes every other command on its connection. */
  reader: RedisClient;
  stream: string;
  /** The most entries one read returns. */
  count: number;
  /** How long a read waits for entries to arrive; without it a read answers at once. */
  blockMs?: number;
  /** Asked before every read; false ends the batches (a read already sent still yields). */
  running: () => boolean;
  log: Logger;
  /** Logged as a warning, with the error, when a read fails. */
  retryMessage: string;
  /** The pause after a failed read: an outage is not met with a tight loop of errors. */
  retryDelayMs?: number;
  /**
   * Awaited before every read. `caughtUp`: the last read found fewer than `count` entries (new
   * ones, in a group), so a reader that does not block can wait here for news, not poll.
   */
  beforeRead?: (caughtUp: boolean) => void | Promise<void>;
  /** Entries as bytes (`xreadBuffer`), for a consumer that scans fields without strings. */
  bytes?: boolean;
}

export interface FollowOptions extends ReadOptions {
  /** The ID the first read starts after: "0-0" for everything, `lastStreamId` for new entries. */
  after: string;
  group?: undefined;
}

export interface GroupReadOptions extends ReadOptions {
  group: { name: string; consumer: string };
  after?: undefined;
}

export type StreamReadOptions = FollowOptions | GroupReadOptions;

/** XREADGROUP's ID for this consumer's unacknowledged entries from the start, and for new ones. */
const UNACKNOWLEDGED = "0";
const NEW_ENTRIES = ">";
const NO_ENTRIES: readonly never[] = [];
const DEFAULT_RETRY_DELAY_MS = 200;

type XRead = (...args: Array<string | number>) => Promise<unknown>;
type Reply<Entry> = Array<[unknown, Entry[]]> | null;

/** Batches of a stream, as strings or (`bytes: true`) as bytes; see the module's comment. */
export function readStream(
  options: StreamReadOptions & { bytes: true },
): AsyncGenerator<StreamBatch<StreamEntryBytes>, void, undefined>;
export function readStream(
  options: StreamReadOptions & { bytes?: false },
): AsyncGenerator<StreamBatch<StreamEntryReply>, void, undefined>;
export async function* readStream(
  options: StreamReadOptions,
): AsyncGenerator<StreamBatch<StreamEntryReply | StreamEntryBytes>, void, undefined> {
  const { reader, count, running, log, beforeRead, group } = options;
  const retryDelayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  const send = commandOf(reader, group !== undefined, options.bytes === true);
  const head = commandHead(options);
  let lastId = options.after ?? "0-0";
  let cursor = group === undefined ? lastId : UNACKNOWLEDGED;
  let caughtUp = false;
  while (running()) {
    if (beforeRead !== undefined) {
      await beforeRead(caughtUp);
      if (!running()) return;
    }
    let entries: readonly (StreamEntryReply | StreamEntryBytes)[];
    try {
      const reply = await watchedRead(
        reader,
        () => send(...head, cursor),
        options.blockMs ?? 0,
      ) as Reply<StreamEntryReply | StreamEntryBytes>;
      entries = reply?.[0]?.[1] ?? NO_ENTRIES;
      if (group !== undefined) entries = withFields(entries);
    } catch (error) {
      if (!running()) return;
      log.warn(options.retryMessage, { error });
      if (group !== undefined) cursor = UNACKNOWLEDGED;
      caughtUp = false;
      await sleep(retryDelayMs);
      continue;
    }
    const newest = entries[entries.length - 1];
    if (newest !== undefined) lastId = idText(newest[0]);
    const readNew = group === undefined || cursor === NEW_ENTRIES;
    caughtUp = readNew && entries.length < count;
    if (group === undefined) cursor = lastId;
    // Unacknowledged entries are taken after the last one read, until none is left.
    else if (!readNew) cursor = newest === undefined ? NEW_ENTRIES : lastId;
    yield { entries, lastId };
  }
}

/**
 * An unacknowledged entry that was trimmed (XTRIM, MAXLEN) comes back from XREADGROUP as
 * `[id, null]`: it is given an empty field list, so every group reader skips it as malformed
 * and acknowledges it (a gap), never stuck on it.
 */
function withFields(
  entries: readonly (StreamEntryReply | StreamEntryBytes)[],
): readonly (StreamEntryReply | StreamEntryBytes)[] {
  if (entries.every((entry) => Array.isArray(entry[1]))) return entries;
  return entries.map((entry) =>
    Array.isArray(entry[1]) ? entry : [entry[0], []] as StreamEntryReply | StreamEntryBytes
  );
}

/** The command's arguments before the ID, the same for every read. */
function commandHead(options: StreamReadOptions): Array<string | number> {
  const block = options.blockMs === undefined ? [] : ["BLOCK", options.blockMs];
  const groupArgs = options.group === undefined
    ? []
    : ["GROUP", options.group.name, options.group.consumer];
  return [...groupArgs, "COUNT", options.count, ...block, "STREAMS", options.stream];
}

function commandOf(reader: RedisClient, group: boolean, bytes: boolean): XRead {
  const name = (group ? "xreadgroup" : "xread") + (bytes ? "Buffer" : "");
  const method = (reader as unknown as Record<string, XRead>)[name]!;
  return method.bind(reader);
}

/** Stream IDs are ASCII digits and one dash, so each byte is one character. */
function idText(id: unknown): string {
  return typeof id === "string" ? id : String.fromCharCode.apply(null, id as number[]);
}

export interface FollowManyOptions {
  /** A connection of its own (see `ReadOptions.reader`). */
  reader: RedisClient;
  /**
   * Each stream and the ID its first read starts after. All must share a hash tag on a
   * cluster: one XREAD follows them all, so one wake-up serves whichever moved.
   */
  streams: Readonly<Record<string, string>>;
  count: number;
  blockMs: number;
  running: () => boolean;
  log: Logger;
  retryMessage: string;
  retryDelayMs?: number;
}

/** One read of several streams: the new entries of each stream that moved, in stream order. */
export type ManyBatch = ReadonlyMap<string, readonly StreamEntryReply[]>;

/**
 * Several streams followed by one blocking XREAD, as `readStream` follows one: by explicit IDs,
 * under the watchdog, retried after a pause when a read fails. Yields after every read (an empty
 * map when the read timed out).
 */
export async function* followStreams(
  options: FollowManyOptions,
): AsyncGenerator<ManyBatch, void, undefined> {
  const { reader, count, blockMs, running, log } = options;
  const names = Object.keys(options.streams);
  const cursors = names.map((name) => options.streams[name]!);
  const retryDelayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  while (running()) {
    let reply: Array<[string, StreamEntryReply[]]> | null;
    try {
      reply = await watchedRead(
        reader,
        () =>
          reader.xread(
            "COUNT",
            count,
            "BLOCK",
            blockMs,
            "STREAMS",
            ...names,
            ...cursors,
          ) as Promise<
            Array<[string, StreamEntryReply[]]> | null
          >,
        blockMs,
      );
    } catch (error) {
      if (!running()) return;
      log.warn(options.retryMessage, { error });
      await sleep(retryDelayMs);
      continue;
    }
    const batch = new Map<string, readonly StreamEntryReply[]>();
    for (const [name, entries] of reply ?? NO_ENTRIES) {
      const at = names.indexOf(name);
      const newest = entries[entries.length - 1];
      if (at < 0 || newest === undefined) continue;
      cursors[at] = newest[0];
      batch.set(name, entries);
    }
    yield batch;
  }
}

/** Creates a consumer group from the stream's start (and the stream), unless it exists. */
export async function ensureGroup(redis: RedisClient, stream: string, group: string) {
  try {
    await redis.xgroup("CREATE", stream, group, "0", "MKSTREAM");
  } catch (error) {
    if (!String(error).includes("BUSYGROUP")) throw error;
  }
}
