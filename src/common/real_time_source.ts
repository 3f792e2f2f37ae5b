/** The production TimeSource: performance.now(), Date.now() and unref'd setTimeout. */
import type { TimeSource, Timer } from '../envoy/common/time.js';

class RealTimer implements Timer {
  private handle: NodeJS.Timeout | null;

  constructor(ms: number, callback: () => void) {
    this.handle = setTimeout(() => { this.handle = null; callback(); }, Math.max(0, ms));
    this.handle.unref();
  }

  cancel(): void {
    if (this.handle !== null) { clearTimeout(this.handle); this.handle = null; }
  }

  enabled(): boolean { return this.handle !== null; }
}

export const realTimeSource: TimeSource = {
  monotonicMs: () => performance.now(),
  systemMs: () => Date.now(),
  schedule: (ms, callback) => new RealTimer(ms, callback),
};
