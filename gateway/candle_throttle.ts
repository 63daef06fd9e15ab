/**
 * At most one candle message per channel every `gapMs` (250: 4 a second), latest wins. Pure:
 * the server asks what to send now and when to ask again. Per channel it keeps at most two
 * waiting messages, one per candle (`t`): the newest state of the candle that was open and of
 * the one after it, so a minute's last update is not lost to the next minute's first; a third
 * candle replaces the second if it is newer, and is dropped if it is older (a late update of an
 * older candle never displaces the newest state). Memory is bounded by the channels (18).
 */
interface Waiting {
  t: number;
  frame: Uint8Array;
}

interface Channel {
  lastSentMs: number;
  queue: Waiting[];
}

export class CandleThrottle {
  readonly #channels = new Map<string, Channel>();

  constructor(readonly gapMs = 250) {}

  /** A candle changed: its frame to send now, or undefined (it waits for `takeDue`). */
  offer(channel: string, t: number, frame: Uint8Array, nowMs: number): Uint8Array | undefined {
    let state = this.#channels.get(channel);
    if (state === undefined) {
      this.#channels.set(channel, state = { lastSentMs: Number.NEGATIVE_INFINITY, queue: [] });
    }
    if (state.queue.length === 0 && nowMs - state.lastSentMs >= this.gapMs) {
      state.lastSentMs = nowMs;
      return frame;
    }
    const same = state.queue.findIndex((w) => w.t === t);
    if (same >= 0) state.queue[same] = { t, frame };
    else if (state.queue.length < 2) state.queue.push({ t, frame });
    else if (t > state.queue[1]!.t) state.queue[1] = { t, frame };
    return undefined;
  }

  /** The frames whose channel may send again by `nowMs`, one per channel. */
  takeDue(nowMs: number): Array<[string, Uint8Array]> {
    const due: Array<[string, Uint8Array]> = [];
    for (const [channel, state] of this.#channels) {
      if (state.queue.length === 0 || nowMs - state.lastSentMs < this.gapMs) continue;
      due.push([channel, state.queue.shift()!.frame]);
      state.lastSentMs = nowMs;
    }
    return due;
  }

  /** When `takeDue` next has something, or undefined when nothing waits. */
  nextDueMs(): number | undefined {
    let next: number | undefined;
    for (const state of this.#channels.values()) {
      if (state.queue.length === 0) continue;
      const at = state.lastSentMs + this.gapMs;
      if (next === undefined || at < next) next = at;
    }
    return next;
  }
}
