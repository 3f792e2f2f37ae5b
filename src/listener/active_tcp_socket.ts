/**
 * ActiveTcpSocket: a just-accepted socket going through the listener filters,
 * after Envoy's `source/common/listener_manager/active_tcp_socket.cc`.
 * Filters run in order; one that asks for data sees every byte read so far
 * (nothing is consumed) until it continues. Then the bytes are put back on
 * the socket (unshift) for the transport socket or the network filters.
 *
 *   all filters continue        -> done(info)
 *   listener_filters_timeout    -> downstream_pre_cx_timeout; done(info) if
 *                                  continue_on_listener_filters_timeout, else closed
 *   peer closes first           -> downstream_listener_filter_remote_close, closed
 *   a filter rejects            -> downstream_listener_filter_error, closed
 *
 * The socket is paused when `done` runs; whoever reads it next resumes it.
 */
import type { Socket } from 'node:net';
import { FilterStatus, type ListenerFilter, type ListenerFilterFactoryCb } from '../envoy/network/listener_filter.js';
import type { ListenerStats } from '../stats/listener_stats.js';

export interface DetectedConnectionInfo {
  serverName: string;
  transportProtocol: string;
  applicationProtocols: ReadonlyArray<string>;
}

export function runListenerFilters(
  socket: Socket,
  factories: ReadonlyArray<ListenerFilterFactoryCb>,
  timeoutMs: number,
  continueOnTimeout: boolean,
  stats: ListenerStats,
  done: (info: DetectedConnectionInfo) => void,
): void {
  const info: DetectedConnectionInfo = { serverName: '', transportProtocol: 'raw_buffer', applicationProtocols: [] };
  const callbacks = {
    setRequestedServerName: (n: string) => { info.serverName = n; },
    setDetectedTransportProtocol: (p: string) => { info.transportProtocol = p; },
    setRequestedApplicationProtocols: (p: ReadonlyArray<string>) => { info.applicationProtocols = p; },
  };
  const filters: ListenerFilter[] = factories.map((f) => f());
  let index = 0;
  let buffered: Buffer = Buffer.alloc(0);
  let finished = false;
  let timer: NodeJS.Timeout | null = null;
  stats.downstream_pre_cx_active.inc();

  const cleanup = (): void => {
    finished = true;
    if (timer !== null) clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('close', onEnd);
    socket.off('error', onError);
    stats.downstream_pre_cx_active.dec();
  };
  const close = (): void => { cleanup(); socket.destroy(); };
  const finish = (): void => {
    cleanup();
    socket.pause();
    if (buffered.length > 0) socket.unshift(buffered);
    done(info);
  };
  /** Highest filter index whose onAccept ran. */
  let accepted = -1;
  /** Runs filters from `index` on; returns when one waits for data. */
  const advance = (): void => {
    while (index < filters.length) {
      const f = filters[index]!;
      if (accepted < index) {
        accepted = index;
        if (f.onAccept(callbacks) === FilterStatus.Continue) { index++; continue; }
      }
      if (buffered.length === 0) return;
      const st = f.onData(buffered);
      if (st === 'close') { stats.downstream_listener_filter_error.inc(); close(); return; }
      if (st === FilterStatus.StopIteration) return;
      index++;
    }
    finish();
  };
  function onData(d: Buffer): void {
    if (finished) return;
    buffered = buffered.length === 0 ? d : Buffer.concat([buffered, d]);
    advance();
  }
  function onEnd(): void {
    if (finished) return;
    stats.downstream_listener_filter_remote_close.inc();
    close();
  }
  function onError(): void { /* 'close' follows */ }

  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('close', onEnd);
  socket.on('error', onError);
  advance();
  if (finished) return;
  if (timeoutMs > 0) {
    timer = setTimeout(() => {
      if (finished) return;
      stats.downstream_pre_cx_timeout.inc();
      if (continueOnTimeout) finish();
      else close();
    }, timeoutMs);
  }
}
