/**
 * Where each output of a batch goes (docs/design.md §1). Pure: the loop turns the plan into one
 * MULTI/EXEC.
 *
 * - An answer goes to the reply stream of the API process that asked (`replyTo`), and only
 *   there: no other process reads it. An answer with no `replyTo` has no reader and is dropped.
 * - An answer that changed an order (not a replay) also becomes order events on the output
 *   stream, which gateways push and the history writer records (`orderEventsOf`); unsolicited
 *   closes, fills and expiries are events already.
 * - Quotes go to the prices stream, which gateways and APIs follow.
 * - The batch's last cause is recorded with the rest, so recovery knows what was written.
 */
import { encodeOutput, type EngineOutput, type TriggerEvent } from "@trading/shared/schemas";
import { OUTPUT_STREAM, PRICES_STREAM, replyStream, WRITTEN_KEY } from "@trading/shared/redis";

/** A reply stream keeps at most about this many answers (its reader is one API process). */
export const REPLY_STREAM_MAX = 10_000;
/** The prices stream keeps about this many quotes: readers want the latest. */
export const PRICES_STREAM_MAX = 10_000;

export interface WritePlan {
  /** XADDs in cause order: the stream, its MAXLEN (approximate) when capped, the fields. */
  adds: Array<{ stream: string; maxLen?: number; fields: string[] }>;
  /** Reply streams written in this batch: each gets its time to live renewed. */
  replyStreams: string[];
  /** Set to the last cause, in the same EXEC. */
  written: { key: string; cause: string } | undefined;
  /** Answers nobody can be waiting for (no `replyTo`). */
  unaddressed: number;
}

export function planWrites(outputs: readonly EngineOutput[]): WritePlan {
  const adds: WritePlan["adds"] = [];
  const replyStreams = new Set<string>();
  let unaddressed = 0;
  for (const output of outputs) {
    if (output.kind === "price") {
      adds.push({ stream: PRICES_STREAM, maxLen: PRICES_STREAM_MAX, fields: encodeOutput(output) });
    } else if (output.kind === "event") {
      adds.push({ stream: OUTPUT_STREAM, fields: encodeOutput(output) });
    } else {
      if (output.replyTo === undefined) unaddressed++;
      else {
        const stream = replyStream(output.replyTo);
        replyStreams.add(stream);
        adds.push({ stream, maxLen: REPLY_STREAM_MAX, fields: encodeOutput(output) });
      }
      for (const event of orderEventsOf(output)) {
        adds.push({ stream: OUTPUT_STREAM, fields: encodeOutput(event) });
      }
    }
  }
  const last = outputs[outputs.length - 1];
  return {
    adds,
    replyStreams: [...replyStreams],
    written: last === undefined ? undefined : { key: WRITTEN_KEY, cause: last.cause },
    unaddressed,
  };
}

/**
 * The order events a first (not replayed) answer stands for: one for each open, placement,
 * close (partial or full), cancel, modify and reset; a closeAll is one `closed` event per
 * close. Each carries the account's figures the answer carries (after the whole instruction:
 * a closeAll's are those after its last close). Reads, account creations and refusals stand
 * for none.
 */
export function orderEventsOf(output: EngineOutput): TriggerEvent[] {
  if (output.kind !== "answer" || !output.ok || output.replayed) return [];
  const { result, account } = output;
  const event = (r: TriggerEvent["result"]): TriggerEvent => {
    const made: TriggerEvent = {
      kind: "event",
      cause: output.cause,
      userId: output.userId,
      result: r,
    };
    if (account !== undefined) made.account = account;
    return made;
  };
  switch (result.event) {
    case "opened":
    case "closed":
    case "partially_closed":
    case "placed":
    case "cancelled":
    case "modified":
    case "reset":
      return [event(result)];
    case "closed_all":
      return result.closed.map(event);
    default:
      return [];
  }
}

/** The one order event of an answer that stands for at most one (every kind but a closeAll). */
export function orderEventOf(output: EngineOutput): TriggerEvent | undefined {
  const events = orderEventsOf(output);
  return events.length === 1 ? events[0] : undefined;
}
