// The h2 suites' checks on a peer: is it speaking HTTP/2 (h2c prior
// knowledge, or TLS with ALPN h2), and does a GET return the right bytes.
// A peer that accepts the connection but does not complete an HTTP/2
// handshake fails at once with NotHttp2Error, instead of being polled until
// the start-up timeout.

import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as tls from 'node:tls';

export type Transport = 'h2c' | 'tls';

export interface H2Target {
  port: number;
  transport: Transport;
  /** CA (the bench's self-signed certificate) for TLS. */
  ca?: Buffer;
  host?: string;
}

/** The peer accepted the connection but did not speak HTTP/2 on it. */
export class NotHttp2Error extends Error {}

function authority(t: H2Target): string {
  return `${t.transport === 'tls' ? 'https' : 'http'}://${t.host ?? '127.0.0.1'}:${t.port}`;
}

/**
 * Open a session and wait for the server's SETTINGS. Rejects with
 * NotHttp2Error when the TCP connection was accepted but the TLS/ALPN or
 * HTTP/2 handshake failed, with a plain Error when nothing listens yet.
 */
export function openH2(t: H2Target, timeoutMs = 3000): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    // TCP accepted: from then on any failure (TLS, ALPN, no SETTINGS, a
    // timeout) means the peer is up but does not speak HTTP/2 here.
    let tcpUp = false;
    const host = t.host ?? '127.0.0.1';
    const session = http2.connect(authority(t), {
      createConnection: () => {
        const socket =
          t.transport === 'tls'
            ? tls.connect({ host, port: t.port, ca: t.ca, servername: 'localhost', ALPNProtocols: ['h2'] })
            : net.connect({ host, port: t.port });
        socket.once('connect', () => (tcpUp = true));
        return socket;
      },
    });
    const timer = setTimeout(() => fail(new Error(`no handshake within ${timeoutMs} ms`)), timeoutMs);
    const fail = (e: Error): void => {
      clearTimeout(timer);
      session.destroy();
      if (tcpUp) {
        reject(new NotHttp2Error(`accepted the connection but no ${t.transport === 'tls' ? 'TLS + ALPN h2' : 'h2c (prior knowledge)'} handshake: ${e.message}`));
      } else reject(e);
    };
    session.once('connect', () => {
      if (t.transport === 'tls' && session.alpnProtocol !== 'h2') fail(new Error(`ALPN chose ${session.alpnProtocol ?? 'nothing'}`));
    });
    session.once('remoteSettings', () => {
      clearTimeout(timer);
      session.off('error', fail);
      session.off('close', onClose);
      session.on('error', () => {});
      resolve(session);
    });
    const onClose = (): void => fail(new Error('connection closed before the server SETTINGS'));
    session.once('error', fail);
    session.once('close', onClose);
  });
}

/** GET path over a fresh session: status, body and the negotiated protocol. */
export async function h2Get(t: H2Target, path: string, timeoutMs = 5000): Promise<{ status: number; body: Buffer; alpn?: string }> {
  const session = await openH2(t, timeoutMs);
  try {
    return await new Promise((resolve, reject) => {
      const req = session.request({ ':path': path, ':method': 'GET' }, { endStream: true });
      const timer = setTimeout(() => req.close(http2.constants.NGHTTP2_CANCEL), timeoutMs);
      let status = 0;
      const chunks: Buffer[] = [];
      req.on('response', (h) => (status = Number(h[':status'])));
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        clearTimeout(timer);
        resolve({ status, body: Buffer.concat(chunks), alpn: session.alpnProtocol });
      });
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      req.on('close', () => {
        clearTimeout(timer);
        if (!req.readableEnded) reject(new Error(`stream closed (rst code ${req.rstCode})`));
      });
    });
  } finally {
    session.close();
  }
}
