/** Start-up plumbing every bench server shares: listen, and track what close() must end. */
import type { EventEmitter } from 'node:events';
import type net from 'node:net';

/** Listens on host:port (backlog 4096, enough for the load generators) and resolves with the bound port. */
export function listen(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

/** The sockets (`connection`) or HTTP/2 sessions (`session`) a server has open, kept current. */
export function trackOpen<T extends EventEmitter>(server: EventEmitter, event: 'connection' | 'session'): Set<T> {
  const open = new Set<T>();
  server.on(event, (s: T) => {
    open.add(s);
    s.on('close', () => open.delete(s));
  });
  return open;
}
