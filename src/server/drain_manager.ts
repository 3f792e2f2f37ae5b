/**
 * DrainManager: tells connections when to close, after Envoy's
 * `source/server/drain_manager_impl.cc`. Draining starts on SIGTERM/SIGINT
 * (shutdown) or admin `/drain_listeners`; idle HTTP connections close at
 * once, busy ones after their current request, and the server exits when
 * all are gone or `--drain-time-s` passes.
 */
import type { DrainDecision } from '../envoy/server/factory_context.js';

export class DrainManager implements DrainDecision {
  private draining = false;
  private readonly callbacks = new Set<() => void>();

  drainClose(): boolean { return this.draining; }

  addOnDrainCloseCb(cb: () => void): () => void {
    if (this.draining) { cb(); return () => {}; }
    this.callbacks.add(cb);
    return () => this.callbacks.delete(cb);
  }

  get isDraining(): boolean { return this.draining; }

  startDrainSequence(): void {
    if (this.draining) return;
    this.draining = true;
    for (const cb of [...this.callbacks]) cb();
    this.callbacks.clear();
  }
}
