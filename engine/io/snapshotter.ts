/**
 * Takes a snapshot every interval without stalling the loop: a cheap capture of the state (a
 * pass of pointer copies), the conservation check in a slice of its own, then the canonical
 * text encoded and hashed part by part, yielding to the event loop between parts so batches
 * keep flowing, then one Postgres transaction. A state whose money does not add up is never
 * saved: `onBroken` hears of it (the engine stops for good there).
 */
import { createHash } from "node:crypto";
import type { Logger } from "@trading/shared/log";
import { captureState, encodeParts } from "../core/snapshot.ts";
import type { EngineState } from "../core/state.ts";
import { type ConservationBreak, conservationBreak } from "./recovery.ts";
import type { SnapshotMeta, SnapshotStore } from "./snapshots.ts";

export interface SnapshotStats {
  lastId: string;
  stateHash: string;
  bytes: number;
  /** The longest synchronous slice the snapshot took from the loop. */
  longestStallMs: number;
  totalMs: number;
  /** How long the conservation check took (its own slice of the loop). */
  checkMs: number;
}

export class Snapshotter {
  #running: Promise<void> | undefined;
  #lastSavedId = "0-0";
  #lastStartMs = 0;
  /** Wall-clock time the last snapshot was saved (0 before the first). */
  lastSavedAtMs = 0;
  /** The longest stall of any snapshot so far, for the log and benchmarks. */
  worstStallMs = 0;
  last: SnapshotStats | undefined;

  constructor(
    private readonly state: EngineState,
    private readonly store: SnapshotStore,
    private readonly log: Logger,
    private readonly intervalMs: number,
    private readonly onSaved: (saved: SnapshotMeta, stats: SnapshotStats) => Promise<void>,
    /**
     * Called, synchronously in the check's slice, when the state's money does not add up; the
     * snapshot is then not saved (without it, that snapshot fails as an error).
     */
    private readonly onBroken?: (broken: ConservationBreak) => void,
  ) {}

  /** Starts a snapshot if one is due and none is running; returns at once. */
  maybeStart(nowMs: number): void {
    if (this.#running !== undefined || nowMs - this.#lastStartMs < this.intervalMs) return;
    if (this.state.lastId === this.#lastSavedId) return;
    this.#lastStartMs = nowMs;
    this.#running = this.#take().catch((error) => {
      this.log.error("snapshot failed; the next interval will try again", { error });
    }).finally(() => this.#running = undefined);
  }

  /** Waits for the snapshot in progress, if any. */
  async settle(): Promise<void> {
    await this.#running;
  }

  async #take(): Promise<void> {
    const started = performance.now();
    let t = performance.now();
    const view = captureState(this.state);
    const lastId = this.state.lastId;
    let longest = performance.now() - t;
    this.log.debug("snapshot started", { lastId });
    await yieldToLoop();
    // The live state, between two batches like the capture (a yield past it), must add up;
    // checked before the save, so a state that does not is never saved.
    t = performance.now();
    const broken = conservationBreak(this.state);
    const checkMs = performance.now() - t;
    longest = Math.max(longest, checkMs);
    if (broken !== undefined) {
      this.onBroken?.(broken);
      throw new Error(`conservation broken: gap ${broken.gapCents} cents at ${broken.lastId}`);
    }
    await yieldToLoop();
    const hash = createHash("sha256");
    const parts: string[] = [];
    const generator = encodeParts(view);
    for (;;) {
      t = performance.now();
      const next = generator.next();
      if (!next.done) hash.update(next.value);
      longest = Math.max(longest, performance.now() - t);
      if (next.done) break;
      parts.push(next.value);
      await yieldToLoop();
    }
    const stateHash = hash.digest("hex");
    const saved = await this.store.save(lastId, stateHash, parts);
    const bytes = parts.reduce((sum, part) => sum + part.length, 0);
    this.#lastSavedId = lastId;
    this.worstStallMs = Math.max(this.worstStallMs, longest);
    const stats = {
      lastId,
      stateHash,
      bytes,
      longestStallMs: Math.round(longest * 10) / 10,
      totalMs: Math.round(performance.now() - started),
      checkMs: Math.round(checkMs * 10) / 10,
    };
    this.last = stats;
    this.lastSavedAtMs = Date.now();
    this.log.info("snapshot saved", { id: saved.id, ...stats });
    await this.onSaved(saved, stats);
  }
}

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
