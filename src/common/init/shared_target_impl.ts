/**
 * SharedTargetImpl: one init target several managers wait on, after Envoy's
 * `source/common/init/target_impl.h` (SharedTargetImpl). An RDS subscription
 * shared by the HCMs of several listeners (or of an old and a new version of
 * one listener) is a single target: `start` runs on the first initialize(),
 * and ready() releases every waiter, present and future.
 */
import type { InitTarget } from '../../envoy/init/init.js';

export class SharedTargetImpl implements InitTarget {
  private started = false;
  private readyValue = false;
  private waiters: Array<() => void> = [];

  constructor(readonly name: string, private readonly start: () => void) {}

  get isReady(): boolean { return this.readyValue; }

  initialize(ready: () => void): void {
    if (this.readyValue) { ready(); return; }
    this.waiters.push(ready);
    if (!this.started) {
      this.started = true;
      this.start();
    }
  }

  /** Done: every manager waiting (now or later) may go on. Idempotent. */
  ready(): void {
    if (this.readyValue) return;
    this.readyValue = true;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
