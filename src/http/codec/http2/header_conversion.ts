/**
 * Header conversion between Legate's HeaderMap and HTTP/2 header lists: flat
 * `name, value, …` fields for Legate's own client codec (upstream), node:http2
 * header objects for the server codec (downstream). After the header handling
 * of Envoy's `source/common/http/http2/codec_impl.cc`.
 *
 * Request side (HeaderMap → HTTP/2 fields):
 * - pseudo headers pass through; `:scheme` gets the connection's scheme when absent,
 *   and `:authority` comes from `host` when only an HTTP/1-style `host` is present;
 *   a plain CONNECT keeps only `:method` and `:authority`; an HTTP/1 upgrade
 *   (`Upgrade` + `Connection: upgrade`) becomes an extended CONNECT (RFC 8441,
 *   `:protocol` = the upgrade token) and its 200 answer a 101 again;
 * - HTTP/1 connection-specific headers are dropped (RFC 9113 §8.2.2): `connection`,
 *   `keep-alive`, `proxy-connection`, `transfer-encoding`, `upgrade`, `http2-settings`
 *   and `host`; `te` survives only as `te: trailers`;
 * - repeated headers stay one field each (`content-length` keeps its first value);
 *   for node:http2 objects, the names node insists are single-valued are joined
 *   with `, `.
 *
 * Response side: the decoded `[name, value, ...]` list (lower case, in wire
 * order, repeats kept) goes into a HeaderMapImpl as is.
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
 * The upgrade token of an HTTP/1 upgrade request (`Upgrade: x` with `Connection: upgrade`), or null.
 * Such a request goes upstream as an extended CONNECT (RFC 8441), as Envoy's
 * `transformUpgradeRequestFromH1toH2` does.
 */
export function http1UpgradeOf(headers: HeaderMap): string | null {
  const upgrade = headers.get('upgrade');
  if (upgrade === undefined) return null;
  const connection = headers.get('connection') ?? '';
  for (const t of connection.split(',')) if (t.trim().toLowerCase() === 'upgrade') return upgrade;
  return null;
}

/**
 * The request header fields for Legate's own HTTP/2 client codec: flat
 * `name, value, …`, pseudo-headers first, one field per value (the rules are
 * in the file comment: connection-specific headers dropped, `te` only as
 * `trailers`, `host` → `:authority`, upgrades as extended CONNECT).
 * Throws when a name or value cannot go on the wire (CR, LF or NUL).
 */
export function toHttp2RequestFields(headers: HeaderMap, defaultScheme: string): string[] {
  const pseudo: string[] = [];
  const regular: string[] = [];
  let host: string | undefined;
  let hasAuthority = false, hasScheme = false, hasContentLength = false, hasTe = false;
  let method = '', protocol: string | null = null;
  headers.forEach((name, value) => {
    checkFieldValue(name, value);
    if (name.charCodeAt(0) === 58 /* : */) {
      if (name === ':authority') hasAuthority = true;
      else if (name === ':scheme') hasScheme = true;
      else if (name === ':method') method = value;
      else if (name === ':protocol') protocol = value;
      pseudo.push(name, value);
      return;
    }
    if (CONNECTION_SPECIFIC.has(name)) {
      if (name === 'host' && host === undefined) host = value;
      return;
    }
    if (name === 'te') {
      if (!hasTe && teAllowsTrailers(value)) regular.push('te', 'trailers');
      hasTe = true;
      return;
    }
    if (name === 'content-length') {
      if (hasContentLength) return;
      hasContentLength = true;
    }
    regular.push(name, value);
  });
  if (!hasAuthority && host !== undefined) pseudo.push(':authority', host);
  const upgrade = http1UpgradeOf(headers);
  if (upgrade !== null) {
    // HTTP/1 upgrade → extended CONNECT: `:method CONNECT` + `:protocol <token>`, path and scheme kept.
    setField(pseudo, ':method', 'CONNECT');
    setField(pseudo, ':protocol', upgrade);
    method = 'CONNECT';
    protocol = upgrade;
    const i = indexOfField(regular, 'content-length');
    if (i !== -1 && regular[i + 1] === '0') regular.splice(i, 2);
  }
  if (method === 'CONNECT' && protocol === null) {
    // A plain CONNECT carries only :method and :authority (RFC 9113 §8.5).
    removeField(pseudo, ':scheme');
    removeField(pseudo, ':path');
  } else if (!hasScheme) {
    pseudo.push(':scheme', defaultScheme);
  }
  for (let i = 0; i < regular.length; i++) pseudo.push(regular[i]!);
  return pseudo;
}

/** Trailer fields for the HTTP/2 client codec (pseudo and connection-specific headers dropped). */
export function toHttp2TrailerFields(trailers: HeaderMap): string[] {
  const out: string[] = [];
  trailers.forEach((name, value) => {
    if (name.charCodeAt(0) === 58 /* : */ || CONNECTION_SPECIFIC.has(name) || name === 'te') return;
    checkFieldValue(name, value);
    out.push(name, value);
  });
  return out;
}

/** A HeaderMapImpl from decoded HTTP/2 fields (flat `name, value, …`; names already lower case). */
export function fromHttp2Fields(fields: readonly string[]): HeaderMapImpl {
  const n = fields.length >> 1;
  const names = new Array<string>(n);
  const values = new Array<string>(n);
  for (let i = 0, j = 0; j < n; i += 2, j++) {
    names[j] = fields[i]!;
    values[j] = fields[i + 1]!;
  }
  return new HeaderMapImpl(names, values);
}

function checkFieldValue(name: string, value: string): void {
  if (value.indexOf('\n') !== -1 || value.indexOf('\r') !== -1 || value.indexOf('\0') !== -1) {
    throw new Error(`invalid value for header ${name}`);
  }
}

function indexOfField(fields: readonly string[], name: string): number {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return i;
  return -1;
}

function setField(fields: string[], name: string, value: string): void {
  const i = indexOfField(fields, name);
  if (i === -1) fields.push(name, value);
  else fields[i + 1] = value;
}

function removeField(fields: string[], name: string): void {
  const i = indexOfField(fields, name);
  if (i !== -1) fields.splice(i, 2);
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

/**
 * The response to an extended CONNECT, in HTTP/1 upgrade terms (Envoy's
 * `transformUpgradeResponseFromH2toH1`): a 200 becomes `101` with
 * `upgrade: <token>` and `connection: upgrade`; anything else is left as is.
 */
export function toHttp1UpgradeResponse(headers: HeaderMapImpl, upgrade: string): void {
  if (headers.get(':status') !== '200') return;
  headers.set(':status', '101');
  headers.set('upgrade', upgrade);
  headers.set('connection', 'upgrade');
  headers.remove('content-length');
}
