/**
 * An HTTP/1.1 upstream that misbehaves on cue, for retry, outlier-detection,
 * health-check and chaos tests: answer a status N times, hang, reset before
 * or in the middle of the body, close after the headers, drip slowly, or stop
 * listening (connections refused) and come back on the same port.
 *
 *   const u = await startFaultyUpstream('a');
 *   u.queue({ kind: 'status', status: 503 }, 2);   // the next two requests get 503
 *   u.setDefault({ kind: 'hang' });                 // then every request hangs
 *   await u.stopListening(); await u.listenAgain(); // refuse, then accept again
 *
 * A normal answer is 200 with body = the upstream's name and `x-upstream: name`.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export type Behaviour =
  | { kind: 'ok' }
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  | { kind: 'hang' }
  | { kind: 'reset-before-headers' }
  | { kind: 'reset-mid-body' }
  | { kind: 'close-after-headers' }
  | { kind: 'slow-drip'; chunks: number; intervalMs: number }
  | { kind: 'delay'; ms: number };

export interface SeenRequest { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }

export interface FaultyUpstream {
  readonly name: string;
  /** The port; kept across stopListening()/listenAgain(). */
  readonly port: number;
  /** Requests that reached the server (any behaviour). */
  readonly requests: SeenRequest[];
  queue(behaviour: Behaviour, times?: number): void;
  setDefault(behaviour: Behaviour): void;
  /** Closes the listening socket and every open connection: new connections are refused. */
  stopListening(): Promise<void>;
  /** Listens again on the same port. */
  listenAgain(): Promise<void>;
  close(): Promise<void>;
}

export async function startFaultyUpstream(name: string): Promise<FaultyUpstream> {
  const requests: SeenRequest[] = [];
  const queued: Behaviour[] = [];
  let fallback: Behaviour = { kind: 'ok' };
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => { timers.delete(t); fn(); }, ms);
    timers.add(t);
  };

  const answer = (b: Behaviour, res: http.ServerResponse): void => {
    const socket = res.socket;
    switch (b.kind) {
      case 'ok':
        res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': name });
        res.end(name);
        return;
      case 'status':
        res.writeHead(b.status, { 'content-type': 'text/plain', 'x-upstream': name, ...b.headers });
        res.end(b.body ?? `${name} ${b.status}`);
        return;
      case 'hang':
        return;
      case 'reset-before-headers':
        socket?.destroy();
        return;
      case 'reset-mid-body':
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000', 'x-upstream': name });
        res.write('partial body');
        later(10, () => socket?.destroy());
        return;
      case 'close-after-headers':
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000', 'x-upstream': name });
        res.flushHeaders();
        later(10, () => socket?.destroy());
        return;
      case 'slow-drip': {
        res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': name });
        let left = b.chunks;
        const drip = (): void => {
          if (res.destroyed) return;
          if (left-- <= 0) { res.end(); return; }
          res.write('.');
          later(b.intervalMs, drip);
        };
        drip();
        return;
      }
      case 'delay':
        later(b.ms, () => answer({ kind: 'ok' }, res));
        return;
    }
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() });
      answer(queued.shift() ?? fallback, res);
    });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;

  const stopListening = async (): Promise<void> => {
    for (const t of timers) clearTimeout(t);
    timers.clear();
    for (const s of sockets) s.destroy();
    if (!server.listening) return;
    await new Promise<void>((r) => server.close(() => r()));
  };

  return {
    name,
    port,
    requests,
    queue(behaviour, times = 1) { for (let i = 0; i < times; i++) queued.push(behaviour); },
    setDefault(behaviour) { fallback = behaviour; },
    stopListening,
    listenAgain: () => new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve(); });
    }),
    close: stopListening,
  };
}
