/** Small real-socket helpers for integration tests: upstream servers and clients. */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TestServer {
  readonly port: number;
  readonly server: http.Server;
  /** Requests seen, in order. */
  readonly requests: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }>;
  close(): Promise<void>;
}

/** An HTTP/1.1 upstream on 127.0.0.1:0. The handler may be async; by default it echoes. */
export async function startUpstream(
  handler?: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void,
  opts: { collectBody?: boolean } = {},
): Promise<TestServer> {
  const requests: TestServer['requests'] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    if (opts.collectBody === false && handler) {
      requests.push({ method: req.method!, url: req.url!, headers: req.headers, body: '' });
      handler(req, res, '');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      requests.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      if (handler) handler(req, res, body);
      else {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }));
      }
    });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    server,
    requests,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

export interface SimpleResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request with a fresh connection (agent: false), collecting the whole response. */
export function request(port: number, opts: http.RequestOptions & { body?: string | Buffer } = {}): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, agent: false, ...opts }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.end(opts.body);
    else req.end();
  });
}

/** Sends raw bytes and collects everything until the server closes (or `timeoutMs`). */
export function rawRequest(port: number, data: string | Buffer, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    const t = setTimeout(() => { s.destroy(); resolve(out); }, timeoutMs);
    s.on('data', (d) => { out += d.toString('latin1'); });
    s.on('close', () => { clearTimeout(t); resolve(out); });
    s.on('error', (e) => { clearTimeout(t); if (out) resolve(out); else reject(e); });
    s.write(data);
  });
}

/** Reads admin /stats?format=json into a name → value map (counters and gauges). */
export async function readStats(adminPort: number): Promise<Map<string, number>> {
  const r = await request(adminPort, { path: '/stats?format=json' });
  const j = JSON.parse(r.body) as { stats: Array<{ name?: string; value?: number }> };
  const m = new Map<string, number>();
  for (const s of j.stats) if (s.name !== undefined && typeof s.value === 'number') m.set(s.name, s.value);
  return m;
}

/** Polls `fn` until it returns true (state settles asynchronously in another process). */
export async function eventually(fn: () => Promise<boolean> | boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
