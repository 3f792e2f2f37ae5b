/** TLS clients for integration tests: one request over a fresh TLS connection, or a bare handshake. */
import https from 'node:https';
import tls from 'node:tls';
import type { X509Certificate } from 'node:crypto';
import type { CertFiles } from './certs.js';

export interface TlsClientOptions {
  servername?: string;
  /** CA PEM to trust (default: trust anything, so a test can inspect what the server sent). */
  ca?: string;
  client?: CertFiles;
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  ALPNProtocols?: string[];
}

export interface HttpsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The certificate the server presented. */
  serverCert: X509Certificate | undefined;
  tlsVersion: string;
  alpn: string;
  /** Local port of the connection (tells a reused keep-alive connection apart). */
  localPort: number;
}

function tlsOptions(o: TlsClientOptions): tls.ConnectionOptions {
  return {
    servername: o.servername,
    ca: o.ca,
    rejectUnauthorized: o.ca !== undefined,
    checkServerIdentity: () => undefined,
    cert: o.client?.certPem,
    key: o.client?.keyPem,
    minVersion: o.minVersion,
    maxVersion: o.maxVersion,
    ALPNProtocols: o.ALPNProtocols,
  };
}

/** GET `path` over a fresh TLS connection to 127.0.0.1:port. */
export function httpsRequest(port: number, o: TlsClientOptions & { path?: string; headers?: Record<string, string>; agent?: https.Agent } = {}): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: o.path ?? '/', headers: o.headers, agent: o.agent ?? false, ...tlsOptions(o) }, (res) => {
      const s = res.socket as tls.TLSSocket;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString(),
        serverCert: s.getPeerX509Certificate(), tlsVersion: s.getProtocol() ?? '', alpn: typeof s.alpnProtocol === 'string' ? s.alpnProtocol : '', localPort: s.localPort ?? 0,
      }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('https request timed out')));
    req.end();
  });
}

export interface HandshakeOutcome {
  ok: boolean;
  /** Error code when not ok, or 'closed' when the server closed the connection after the handshake. */
  error: string;
  serverCert: X509Certificate | undefined;
  tlsVersion: string;
  alpn: string;
}

/**
 * Handshakes, writes `probe` (a request that makes the server answer) and
 * waits for data or a close: a server that rejects the client after its
 * handshake (TLS 1.3 client certificates) shows as ok=false.
 */
export function tlsHandshake(port: number, o: TlsClientOptions = {}, probe: string | null = 'GET / HTTP/1.1\r\nhost: x\r\n\r\n'): Promise<HandshakeOutcome> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, ...tlsOptions(o) });
    let settled = false;
    const done = (ok: boolean, error: string): void => {
      if (settled) return;
      settled = true;
      const alpn = s.alpnProtocol;
      resolve({ ok, error, serverCert: s.getPeerX509Certificate(), tlsVersion: s.getProtocol() ?? '', alpn: typeof alpn === 'string' ? alpn : '' });
      s.destroy();
    };
    // null probe: the handshake alone is the answer.
    s.on('secureConnect', () => { if (probe === null) done(true, ''); else s.write(probe); });
    const t = setTimeout(() => done(false, 'timeout'), 5000);
    s.on('close', () => clearTimeout(t));
    s.on('data', () => done(true, ''));
    s.on('error', (e: NodeJS.ErrnoException) => done(false, e.code ?? e.message));
    s.on('close', () => done(false, 'closed'));
  });
}
