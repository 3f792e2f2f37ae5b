/**
 * Messages and shared counters between the access-log manager (main thread)
 * and its flush worker (access_log_flush_worker.ts). Kept in a module of its
 * own so that neither side loads the other.
 */

/** Indexes into the shared Int32Array. */
export const CTRL_DONE = 0; // sequence number of the last message the worker finished
export const CTRL_COMPLETED = 1; // successful writes so far
export const CTRL_FAILED = 2; // failed writes so far
export const CTRL_READY = 3; // 1 once the worker runs
export const CTRL_SLOTS = 4;

/**
 * Append `data` to `fd`. (Descriptors are opened and closed by the main
 * thread; it closes one only after the worker has reported every write to it.)
 */
export interface FlushMessage {
  readonly t: 'w';
  readonly seq: number;
  readonly fd: number;
  readonly data: string;
}

export interface FlushWorkerData {
  readonly ctrl: SharedArrayBuffer;
}
