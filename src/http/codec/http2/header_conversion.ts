/**
 * Header conversion between Legate's HeaderMap and node:http2, for the HTTP/2
 * upstream codec (the client half of Envoy's `source/common/http/http2/codec_impl.cc`
 * header handling).
 *
 * Request side (HeaderMap → node:http2 header object):
 * - pseudo headers pass through; `:scheme` gets the connection's scheme when absent,
 *   and `:authority` comes from `host` when only an HTTP/1-style `host` is present;
 * - HTTP/1 connection-specific headers are dropped (RFC 9113 §8.2.2): `connection`,
 *   `keep-alive`, `proxy-connection`, `transfer-encoding`, `upgrade`, `http2-settings`
 *   and `host`; `te` survives only as `te: trailers`;
 * - repeated headers become arrays (one field line each on the wire), except the
 *   names node:http2 insists are single-valued, which are joined with `, `
 *   (`content-length` keeps its first value).
 *
 * Response side: node:http2's raw `[name, value, ...]` list (already lower case,
 * in wire order, repeats kept) goes into a HeaderMapImpl as is.
 */
import type { OutgoingHttpHeaders } from 'node:http2';
import type { HeaderMap } from '../../../envoy/http/header_map.js';
import { HeaderMapImpl } from '../header_map_impl.js';

/** Headers that must not appear in an HTTP/2 message (RFC 9113 §8.2.2), plus `host` (→ `:authority`). */
const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'host',
]);

/**
 * Names node:http2 refuses to send more than once (its kSingleValueHeaders);
 * an array value for one of them throws ERR_HTTP2_HEADER_SINGLE_VALUE.
 */
const SINGLE_VALUE: ReadonlySet<string> = new Set([
  ':status', ':method', ':authority', ':scheme', ':path', ':protocol',
  'access-control-allow-credentials', 'access-control-max-age', 'access-control-request-method',
  'age', 'authorization', 'content-encoding', 'content-language', 'content-length',
  'content-location', 'content-md5', 'content-range', 'content-type', 'date', 'dnt', 'etag',
  'expires', 'from', 'host', 'if-match', 'if-modified-since', 'if-none-match', 'if-range',
  'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization',
  'range', 'referer', 'retry-after', 'tk', 'upgrade-insecure-requests', 'user-agent',
  'x-content-type-options',
]);

/** True when a `te` value lists the `trailers` token. */
function teAllowsTrailers(value: string): boolean {
  for (const token of value.split(',')) {
    const t = token.trim().toLowerCase();
    if (t === 'trailers' || t.startsWith('trailers;')) return true;
  }
  return false;
}

function addValue(out: OutgoingHttpHeaders, name: string, value: string): void {
  const prev = out[name];
  if (prev === undefined) {
    out[name] = value;
  } else if (SINGLE_VALUE.has(name)) {
    if (name !== 'content-length') out[name] = `${String(prev)}, ${value}`;
  } else if (Array.isArray(prev)) {
    prev.push(value);
  } else {
    out[name] = [String(prev), value];
  }
}

/**
 * The node:http2 request header object for `headers`.
 * @param defaultScheme `:scheme` when the map has none (`http` for h2c).
 */
export function toHttp2RequestHeaders(headers: HeaderMap, defaultScheme: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  let host: string | undefined;
  headers.forEach((name, value) => {
    if (CONNECTION_SPECIFIC.has(name)) {
      if (name === 'host' && host === undefined) host = value;
      return;
    }
    if (name === 'te') {
      if (out.te === undefined && teAllowsTrailers(value)) out.te = 'trailers';
      return;
    }
    addValue(out, name, value);
  });
  if (out[':authority'] === undefined && host !== undefined) out[':authority'] = host;
  if (out[':scheme'] === undefined && out[':method'] !== 'CONNECT') out[':scheme'] = defaultScheme;
  return out;
}

/** The node:http2 trailer object for `trailers` (pseudo and connection-specific headers dropped). */
export function toHttp2Trailers(trailers: HeaderMap): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  trailers.forEach((name, value) => {
    if (name.charCodeAt(0) === 58 /* : */ || CONNECTION_SPECIFIC.has(name) || name === 'te') return;
    addValue(out, name, value);
  });
  return out;
}

/**
 * A HeaderMapImpl from node:http2's raw header list (`[name, value, ...]`),
 * or, when node gave none, from its header object.
 */
export function fromHttp2Headers(raw: readonly string[] | undefined, obj: Record<string, unknown>): HeaderMapImpl {
  const m = new HeaderMapImpl();
  if (raw !== undefined) {
    for (let i = 0; i + 1 < raw.length; i += 2) m.add(raw[i]!.toLowerCase(), raw[i + 1]!);
    return m;
  }
  for (const name of Object.keys(obj)) {
    const v = obj[name];
    const lower = name.toLowerCase();
    if (Array.isArray(v)) for (const x of v) m.add(lower, String(x));
    else if (v !== undefined) m.add(lower, String(v));
  }
  return m;
}

/**
 * The request HeaderMap for a downstream HTTP/2 request (server codec), from
 * node:http2's raw list:
 * - repeated `cookie` fields are joined with `; ` into one header (RFC 9113
 *   §8.2.3), as Envoy's HTTP/2 codec does, so HTTP/1 upstreams get one line;
 * - a request carrying `host` but no `:authority` gets `:authority` from it.
 */
export function requestHeadersFromHttp2(raw: readonly string[]): HeaderMapImpl {
  const m = new HeaderMapImpl();
  let cookie: string | undefined;
  let cookies = 0;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    if (name === 'cookie') {
      cookie = cookies++ === 0 ? value : `${cookie!}; ${value}`;
      continue;
    }
    m.add(name, value);
  }
  if (cookie !== undefined) m.add('cookie', cookie);
  if (!m.has(':authority')) {
    const host = m.get('host');
    if (host !== undefined) {
      m.remove('host');
      m.add(':authority', host);
    }
  }
  return m;
}

/** The node:http2 response header object for `headers` (connection-specific headers dropped). */
export function toHttp2ResponseHeaders(headers: HeaderMap): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  headers.forEach((name, value) => {
    if (CONNECTION_SPECIFIC.has(name)) return;
    addValue(out, name, value);
  });
  return out;
}
