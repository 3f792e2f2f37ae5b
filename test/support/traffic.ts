/**
 * Client-side helpers for tests that change config under load: HTTP/1.1
 * keep-alive and HTTP/2 request loops that record every failure, what each
 * response said, and the connection-level signals of a drain
 * (`connection: close`, GOAWAY); plus port probes.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** One HTTP/1.1 GET through `agent` (keep-alive when the agent keeps sockets). */
export function h1Get(port: number, path: string, agent: http.Agent | false = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** One HTTP/2 GET on `session`. Rejects with the stream error (its `code`, e.g. ERR_HTTP2_STREAM_ERROR, and rstCode). */
export function h2Get(session: http2.ClientHttp2Session, path: string): Promise<Reply & { rstCode?: number }> {
  return new Promise((resolve, reject) => {
    let req: http2.ClientHttp2Stream;
    try {
      req = session.request({ ':path': path, ':method': 'GET' });
    } catch (e) {
      reject(e);
      return;
    }
    let status = 0;
    let headers: http.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => { status = Number(h[':status']); headers = h as http.IncomingHttpHeaders; });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ status, headers, body: Buffer.concat(chunks).toString() }));
    req.on('error', (e: Error & { rstCode?: number }) => { e.rstCode = req.rstCode; reject(e); });
    req.end();
  });
}

export interface LoopResult {
  requests: number;
  /** Requests that failed (error or status other than 200), with why. */
  readonly failures: string[];
  /** Response bodies, in order. */
  readonly bodies: string[];
  /** HTTP/1: responses that carried `connection: close`. */
  connectionClose: number;
  /** HTTP/2: GOAWAY frames received. */
  goaways: number;
  /** HTTP/2: streams refused (REFUSED_STREAM / sent after GOAWAY): never processed, so retried, as the protocol allows. */
  refusedRetried: number;
  /** Connections (HTTP/2 sessions) opened. */
  connections: number;
}

function newResult(): LoopResult {
  return { requests: 0, failures: [], bodies: [], connectionClose: 0, goaways: 0, refusedRetried: 0, connections: 0 };
}

export interface RequestLoop {
  readonly result: LoopResult;
  /** Ends the loop after its current request and closes its connections; resolves with the result. */
  stop(): Promise<LoopResult>;
}

/**
 * Sequential HTTP/1.1 GETs on keep-alive connections (`parallel` loops share
 * one agent with that many sockets) until stopped or `max` requests.
 */
export function startH1Loop(port: number, path: string, opts: { parallel?: number; max?: number } = {}): RequestLoop {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.parallel ?? 1 });
  const result = newResult();
  const countSockets = (): void => { result.connections++; };
  let stopped = false;
  const max = opts.max ?? 5000;
  const one = async (): Promise<void> => {
    while (!stopped && result.requests < max) {
      result.requests++;
      try {
        const r = await h1Get(port, path, agent);
        if (r.status !== 200) result.failures.push(`status ${r.status}: ${r.body}`);
        if (r.headers.connection === 'close') result.connectionClose++;
        result.bodies.push(r.body);
      } catch (e) {
        result.failures.push(String(e));
      }
    }
  };
  const origCreate = agent.createConnection.bind(agent);
  agent.createConnection = ((...args: Parameters<typeof origCreate>) => { countSockets(); return origCreate(...args); }) as typeof agent.createConnection;
  const loops = Array.from({ length: opts.parallel ?? 1 }, () => one());
  return {
    result,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
      agent.destroy();
      return result;
    },
  };
}

/**
 * Sequential HTTP/2 GETs on one session at a time; after a GOAWAY the next
 * request opens a new session. A stream the server refused (it never
 * processed it) is retried.
 */
export function startH2Loop(port: number, path: string, opts: { max?: number } = {}): RequestLoop {
  const result = newResult();
  let stopped = false;
  const max = opts.max ?? 5000;
  const sessions: http2.ClientHttp2Session[] = [];
  let session: http2.ClientHttp2Session | null = null;
  let goingAway = false;
  const connect = (): http2.ClientHttp2Session => {
    const s = http2.connect(`http://127.0.0.1:${port}`);
    s.on('error', () => {});
    s.on('goaway', () => { result.goaways++; if (session === s) goingAway = true; });
    sessions.push(s);
    result.connections++;
    goingAway = false;
    return s;
  };
  const loop = (async () => {
    while (!stopped && result.requests < max) {
      if (session === null || goingAway || session.closed || session.destroyed) session = connect();
      result.requests++;
      try {
        const r = await h2Get(session, path);
        if (r.status !== 200) result.failures.push(`status ${r.status}: ${r.body}`);
        result.bodies.push(r.body);
      } catch (e) {
        const err = e as Error & { code?: string; rstCode?: number };
        if (err.code === 'ERR_HTTP2_GOAWAY_SESSION' || err.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM) {
          result.refusedRetried++;
          result.requests--;
          goingAway = true;
          continue;
        }
        result.failures.push(`${err.code ?? ''} rst=${err.rstCode ?? ''} ${String(e)}`);
      }
    }
  })();
  return {
    result,
    stop: async () => {
      stopped = true;
      await loop;
      for (const s of sessions) s.close();
      return result;
    },
  };
}

/** A port nothing listens on right now (bound and released). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Whether a TCP connect to 127.0.0.1:port succeeds. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** Polls `fn` until it is true. */
export async function until(fn: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
