/**
 * StreamCallbackHelper: the callback bookkeeping every codec stream shares,
 * after Envoy's `source/common/http/codec_helper.h`. Reset callbacks run once;
 * high-watermark notifications that happened before a callback was added are
 * replayed to it, so a late subscriber (the router attaching to a pooled
 * stream) starts in the right state.
 */
import type { StreamCallbacks, StreamResetReason } from '../../envoy/http/codec.js';

export abstract class StreamCallbackHelper {
  protected callbacks: StreamCallbacks[] = [];
  /** Outstanding high-watermark notifications (replayed to late-added callbacks). */
  protected highWatermarks = 0;
  /** True once reset callbacks ran (a stream resets at most once). */
  resetCalled = false;

  addCallbacks(cb: StreamCallbacks): void {
    this.callbacks.push(cb);
    for (let i = 0; i < this.highWatermarks; i++) cb.onAboveWriteBufferHighWatermark();
  }

  removeCallbacks(cb: StreamCallbacks): void {
    const i = this.callbacks.indexOf(cb);
    if (i !== -1) this.callbacks.splice(i, 1);
  }

  /** Runs onResetStream on every callback (once per stream). */
  runResetCallbacks(reason: StreamResetReason, transportFailureReason: string): void {
    if (this.resetCalled) return;
    this.resetCalled = true;
    const cbs = this.callbacks;
    if (cbs.length === 1) { cbs[0]!.onResetStream(reason, transportFailureReason); return; }
    for (const cb of cbs.slice()) cb.onResetStream(reason, transportFailureReason);
  }

  runHighWatermarkCallbacks(): void {
    this.highWatermarks++;
    for (const cb of this.callbacks.slice()) cb.onAboveWriteBufferHighWatermark();
  }

  runLowWatermarkCallbacks(): void {
    if (this.highWatermarks === 0) return;
    this.highWatermarks--;
    for (const cb of this.callbacks.slice()) cb.onBelowWriteBufferLowWatermark();
  }
}
