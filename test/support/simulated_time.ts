/**
 * A TimeSource for tests (Envoy's SimulatedTimeSystem): time moves only when
 * the test calls advance(), which runs due timers in time order, so a test of
 * a 30 s ejection or a 10 s health-check interval takes microseconds. Real I/O
 * still happens on real sockets; `advanceAndSettle` lets it run between steps.
 */
import type { TimeSource, Timer } from '../../src/envoy/common/time.js';

interface Pending { at: number; seq: number; callback: () => void; timer: SimTimer }

class SimTimer implements Timer {
  active = true;
  constructor(private readonly owner: SimulatedTimeSource) {}
  cancel(): void { if (this.active) { this.active = false; this.owner.forget(this); } }
  enabled(): boolean { return this.active; }
}

export class SimulatedTimeSource implements TimeSource {
  private now: number;
  private wall: number;
  private seq = 0;
  private pending: Pending[] = [];

  constructor(startMs = 1_000_000, wallStartMs = Date.UTC(2026, 0, 1)) {
    this.now = startMs;
    this.wall = wallStartMs;
  }

  monotonicMs(): number { return this.now; }
  systemMs(): number { return this.wall + this.now; }

  schedule(ms: number, callback: () => void): Timer {
    const timer = new SimTimer(this);
    this.pending.push({ at: this.now + Math.max(0, ms), seq: this.seq++, callback, timer });
    return timer;
  }

  /** Timers still waiting. */
  pendingCount(): number { return this.pending.length; }

  /** Moves time forward by `ms`, firing every timer that falls due, earliest first (timers they schedule included). */
  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      let next: Pending | null = null;
      for (const p of this.pending) {
        if (p.at <= target && (next === null || p.at < next.at || (p.at === next.at && p.seq < next.seq))) next = p;
      }
      if (next === null) break;
      this.pending.splice(this.pending.indexOf(next), 1);
      this.now = Math.max(this.now, next.at);
      next.timer.active = false;
      next.callback();
    }
    this.now = target;
  }

  /** advance(ms), then lets real I/O run (several event-loop turns) so sockets opened by the timers make progress. */
  async advanceAndSettle(ms: number, settleMs = 20): Promise<void> {
    this.advance(ms);
    await new Promise((r) => setTimeout(r, settleMs));
  }

  /** @internal */
  forget(timer: SimTimer): void {
    const i = this.pending.findIndex((p) => p.timer === timer);
    if (i >= 0) this.pending.splice(i, 1);
  }
}
