// The public shapes of a ComputePool's options, events and statistics.
import type { ComputeInit } from './protocol.js';

export interface ComputePoolOptions extends ComputeInit {
  /** Compute threads (default: one per core, os.availableParallelism()). */
  threads?: number;
  /** Notified of thread crashes and restarts (for logs). */
  onEvent?: (event: PoolEvent) => void;
  /** Delay before restarting a thread whose restart failed (doubles up to 30 s). Default 1000 ms. */
  restartDelayMs?: number;
}

export type PoolEvent =
  | { type: 'thread-exit'; thread: number; code: number; lostBatch: boolean }
  | { type: 'thread-error'; thread: number; error: Error }
  | { type: 'thread-restarted'; thread: number }
  | { type: 'restart-failed'; thread: number; error: Error; retryInMs: number };

export interface PoolStats {
  threads: number;
  /** Threads loaded and accepting batches. */
  ready: number;
  busy: number;
  /** Batches waiting for a thread. */
  queued: number;
  batches: number;
  images: number;
  crashes: number;
  /** Sum over batches of the time a thread spent on them (ms): busy / (threads × wall) = utilisation. */
  computeMs: number;
}
