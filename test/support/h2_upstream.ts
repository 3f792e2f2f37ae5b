/** A real h2c (HTTP/2 prior knowledge) upstream for integration tests, on 127.0.0.1:0. */
import http2, { type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream, type Settings } from 'node:http2';
import type { AddressInfo } from 'node:net';

export interface H2Request {
  readonly headers: IncomingHttpHeaders;
  readonly stream: ServerHttp2Stream;
  readonly session: ServerHttp2Session;
  /** Index of the session in `sessions`. */
  readonly sessionIndex: number;
  /** The request body, once 'end' was seen (set by the server before the handler runs). */
  body: string;
}

export interface H2Upstream {
  readonly port: number;
  readonly server: http2.Http2Server;
  /** Every session the server accepted, in order. */
  readonly sessions: ServerHttp2Session[];
  /** The client SETTINGS each session received, by session index. */
  readonly remoteSettings: Settings[];
  readonly requests: H2Request[];
  close(): Promise<void>;
}

/**
 * Starts the server. `handler` gets each request once its body has ended;
 * by default it answers 200 with a JSON echo of the request.
 */
export async function startH2Upstream(
  handler?: (req: H2Request) => void,
  settings: Settings = {},
): Promise<H2Upstream> {
  const sessions: ServerHttp2Session[] = [];
  const remoteSettings: Settings[] = [];
  const requests: H2Request[] = [];
  const server = http2.createServer({ settings });
  server.on('session', (session) => {
    const i = sessions.length;
    sessions.push(session);
    session.on('remoteSettings', (s) => { remoteSettings[i] ??= s; });
    session.on('error', () => {});
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    const session = stream.session as ServerHttp2Session;
    const req: H2Request = { headers, stream, session, sessionIndex: sessions.indexOf(session), body: '' };
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      req.body = Buffer.concat(chunks).toString();
      requests.push(req);
      if (handler) handler(req);
      else if (!stream.destroyed) {
        stream.respond({ ':status': 200, 'content-type': 'application/json' });
        stream.end(JSON.stringify({ headers, body: req.body }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    server,
    sessions,
    remoteSettings,
    requests,
    close: () => new Promise<void>((r) => {
      for (const s of sessions) s.destroy();
      server.close(() => r());
    }),
  };
}
