// CPU accounting over one measured run, shared by the wrk and h2load suites:
// CPU of the peer, the origin and the load generator (process trees, % of one
// core), busy/steal % of the pinned proxy and load cores, and from those the
// noise on each core (time that went to neither idle nor the bench).

import { coreUsage, sampleCores, treesCpuSeconds, type CoreSample } from './proc.js';
import type { RunRecord } from './stats.js';

export interface CpuWindowPids {
  peer: number;
  /** The origin serving this run; equal to peer for a "direct" baseline. */
  origin: number;
  /** The load generator (wrk, h2load). */
  load: number;
}

export type CpuFields = Pick<
  RunRecord,
  | 'peerCpuPct'
  | 'originCpuPct'
  | 'wrkCpuPct'
  | 'proxyCoreBusyPct'
  | 'loadCoreBusyPct'
  | 'proxyCoreStealPct'
  | 'loadCoreStealPct'
  | 'proxyNoisePct'
  | 'loadNoisePct'
>;

/**
 * Start sampling now; the end sample is taken just before the load generator
 * is due to finish (after it exits the proxy goes idle and would dilute the
 * numbers). finish() returns the fields, or undefined if the end sample was
 * never taken (the run ended early).
 */
export function startCpuWindow(
  pids: CpuWindowPids,
  durationS: number,
  cores: { proxyCpu?: string; loadCpu?: string },
): { finish(): CpuFields | undefined } {
  const list = [pids.peer, pids.origin, pids.load];
  const t0 = process.hrtime.bigint();
  const c0 = sampleCores();
  const cpu0 = treesCpuSeconds(list);
  let end: { t: bigint; c: CoreSample; cpu: number[] } | undefined;
  const timer = setTimeout(
    () => (end = { t: process.hrtime.bigint(), c: sampleCores(), cpu: treesCpuSeconds(list) }),
    Math.max(500, durationS * 1000 - 250),
  );
  return {
    finish(): CpuFields | undefined {
      clearTimeout(timer);
      if (!end) return undefined;
      const e = end;
      const wall = Number(e.t - t0) / 1e9;
      const single = (c: string | undefined): string | undefined => (c && /^\d+$/.test(c) ? `cpu${c}` : undefined);
      const pc = single(cores.proxyCpu);
      const lc = single(cores.loadCpu);
      const proxyCore = pc ? coreUsage(c0, e.c, pc) : undefined;
      const loadCore = lc ? coreUsage(c0, e.c, lc) : undefined;
      const used = (i: number): number => ((e.cpu[i]! - cpu0[i]!) / wall) * 100;
      const direct = pids.origin === pids.peer;
      const cpu: CpuFields = {
        peerCpuPct: used(0),
        originCpuPct: direct ? undefined : used(1),
        wrkCpuPct: used(2),
        proxyCoreBusyPct: proxyCore?.busyPct,
        loadCoreBusyPct: loadCore?.busyPct,
        proxyCoreStealPct: proxyCore?.stealPct,
        loadCoreStealPct: loadCore?.stealPct,
      };
      // Time on each core that went to neither the bench's processes nor idle:
      // other processes, plus what the hypervisor took (steal).
      if (proxyCore && !direct) {
        cpu.proxyNoisePct = Math.max(0, proxyCore.busyPct - cpu.peerCpuPct!) + proxyCore.stealPct;
      }
      if (loadCore) {
        const ours = cpu.wrkCpuPct! + (direct ? cpu.peerCpuPct! : (cpu.originCpuPct ?? 0));
        cpu.loadNoisePct = Math.max(0, loadCore.busyPct - ours) + loadCore.stealPct;
      }
      return cpu;
    },
  };
}
