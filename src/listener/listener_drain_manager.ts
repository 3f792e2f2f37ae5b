/**
 * ListenerDrainManager: the drain decision of one listener, after Envoy's
 * per-listener `local_drain_manager_` (a child of the server's
 * DrainManagerImpl, `source/server/drain_manager_impl.cc`). Connections of the
 * listener drain when the listener does (replaced or removed by LDS) or when
 * the whole server does (SIGTERM, /drain_listeners), whichever comes first.
 *
 * A listener drain starts at once (Envoy's default drain strategy is gradual;
 * here the HCM already spreads the closes over each connection's next
 * response), and tells the HCM not to close idle HTTP/1 connections outright
 * (see DrainDecision.addOnDrainCloseCb).
 */
import type { DrainDecision } from '../envoy/server/factory_context.js';

export class ListenerDrainManager implements DrainDecision {
  private draining = false;
  private readonly callbacks = new Set<(closeIdle?: boolean) => void>();

  constructor(private readonly parent: DrainDecision) {}

  get isDraining(): boolean { return this.draining; }

  drainClose(): boolean {
    return this.draining || this.parent.drainClose();
  }

  addOnDrainCloseCb(cb: (closeIdle?: boolean) => void): () => void {
    if (this.draining) { cb(false); return () => {}; }
    let fired = false;
    let unregisterParent: (() => void) | null = null;
    const once = (closeIdle?: boolean): void => {
      if (fired) return;
      fired = true;
      this.callbacks.delete(once);
      unregisterParent?.();
      cb(closeIdle);
    };
    // The parent calls back at once when the server is already draining.
    unregisterParent = this.parent.addOnDrainCloseCb(once);
    if (fired) { unregisterParent(); return () => {}; }
    this.callbacks.add(once);
    return () => {
      this.callbacks.delete(once);
      unregisterParent?.();
    };
  }

  /** Starts draining this listener's connections (idempotent). */
  startDrainSequence(): void {
    if (this.draining) return;
    this.draining = true;
    for (const cb of [...this.callbacks]) cb(false);
    this.callbacks.clear();
  }
}
