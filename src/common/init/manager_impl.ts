/**
 * InitManagerImpl: waits for a set of init targets, after Envoy's
 * `source/common/init/manager_impl.cc`. Each listener has one; its targets
 * (RDS subscriptions) are added while the listener is built, and
 * `initialize(done)` calls `done` once all of them are ready — at once when
 * there are none.
 */
import type { InitManager, InitTarget } from '../../envoy/init/init.js';

export type InitState = 'Uninitialized' | 'Initializing' | 'Initialized';

export class InitManagerImpl implements InitManager {
  private readonly targets: InitTarget[] = [];
  private readonly waiting = new Set<InitTarget>();
  private stateValue: InitState = 'Uninitialized';
  private done: (() => void) | null = null;
  private cancelled = false;

  constructor(readonly name: string) {}

  get state(): InitState { return this.stateValue; }

  /** Names of the targets not ready yet (for logs and /config_dump). */
  pendingTargets(): string[] {
    return [...this.waiting].map((t) => t.name);
  }

  add(target: InitTarget): void {
    if (this.stateValue === 'Initialized') {
      // Envoy asserts here; a late target cannot hold back what already started.
      target.initialize(() => {});
      return;
    }
    this.targets.push(target);
    if (this.stateValue === 'Initializing') this.startTarget(target);
  }

  /** Starts every target; `done` runs once all are ready (unless cancel() was called first). */
  initialize(done: () => void): void {
    if (this.stateValue !== 'Uninitialized') throw new Error(`init manager ${this.name} initialized twice`);
    this.stateValue = 'Initializing';
    this.done = done;
    for (const t of this.targets) this.waiting.add(t);
    for (const t of [...this.targets]) this.startTarget(t);
    this.checkDone();
  }

  /** The owner went away (a warming listener replaced or removed): `done` will not be called. */
  cancel(): void {
    this.cancelled = true;
    this.done = null;
  }

  private startTarget(target: InitTarget): void {
    this.waiting.add(target);
    let called = false;
    target.initialize(() => {
      if (called) return;
      called = true;
      this.waiting.delete(target);
      this.checkDone();
    });
  }

  private checkDone(): void {
    if (this.stateValue !== 'Initializing' || this.waiting.size > 0) return;
    this.stateValue = 'Initialized';
    const done = this.done;
    this.done = null;
    if (!this.cancelled && done !== null) done();
  }
}
