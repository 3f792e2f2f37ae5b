/**
 * Health-check connections, after Envoy's Host::createHealthCheckConnection:
 * each session opens its own connection to the host (never the cluster's
 * pools, so checks do not count as cluster traffic), through the cluster's
 * transport socket when it has one (tls), else plain TCP.
 */
import http2 from 'node:http2';
import net from 'node:net';
import type { UpstreamTransportSocketFactory } from '../envoy/network/transport_socket.js';
import type { Host } from '../envoy/upstream/host.js';
import { addressToString } from '../network/address.js';

/** A socket to `host`; 'connect' (or 'secureConnect' for tls) means ready. */
export function connectToHost(host: Host, ts: UpstreamTransportSocketFactory | null, alpn?: ReadonlyArray<string>): net.Socket {
  if (ts !== null) return ts.connect(host.address, host.port, host.hostname, alpn).socket;
  return net.connect({ host: host.address, port: host.port, noDelay: true });
}

/** The event that says a socket from connectToHost is ready. */
export function readyEventOf(ts: UpstreamTransportSocketFactory | null): 'connect' | 'secureConnect' {
  return ts !== null && ts.implementsSecureTransport ? 'secureConnect' : 'connect';
}

/** An HTTP/2 client session to `host` (h2 over tls, h2c otherwise); errors are left to stream callbacks. */
export function connectHttp2(host: Host, ts: UpstreamTransportSocketFactory | null): http2.ClientHttp2Session {
  const scheme = ts !== null ? 'https' : 'http';
  const session = http2.connect(`${scheme}://${addressToString(host.address, host.port)}`, {
    createConnection: () => connectToHost(host, ts, ['h2']),
  });
  // A connection error also fails the open stream, which is what the session reports.
  session.on('error', () => {});
  return session;
}

/** `:scheme` of health-check requests: from the transport, as Envoy's setUpstreamScheme. */
export function schemeOf(ts: UpstreamTransportSocketFactory | null): 'http' | 'https' {
  return ts !== null && ts.implementsSecureTransport ? 'https' : 'http';
}
