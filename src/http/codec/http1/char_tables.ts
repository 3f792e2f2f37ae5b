/**
 * 256-entry byte classification tables for the HTTP/1 parser. One indexed load
 * per byte classifies it; nothing here allocates per request.
 *
 * Sources: RFC 9110 §5.1 (tchar), §5.5 (field-value), RFC 9112 §3.2
 * (request-target) and nghttp2_check_authority (the authority check Envoy's
 * HeaderUtility::authorityIsValid uses).
 */

/** Values of NAME: 0 = not a tchar; otherwise a bit set of the flags below. */
export const NAME_OK = 1;
export const NAME_UPPER = 2;
export const NAME_UNDERSCORE = 4;

/**
 * Header-name (and method) bytes: RFC 9110 tchar. Upper-case letters also carry
 * NAME_UPPER so the parser knows whether it must lower-case the name, and `_`
 * carries NAME_UNDERSCORE for `headers_with_underscores_action`.
 */
export const NAME = new Uint8Array(256);

/** Field-value bytes: HTAB, SP..'~' and obs-text (0x80-0xFF). NUL, CR, LF, other CTLs and DEL are 0. */
export const FIELD_VALUE = new Uint8Array(256);

/** request-target bytes (origin/absolute/authority/asterisk form): VCHAR 0x21-0x7E. */
export const TARGET = new Uint8Array(256);

/** Authority bytes (nghttp2_check_authority): ALPHA DIGIT -._~ !$&'()*+,;= : % [ ] @ */
export const AUTHORITY = new Uint8Array(256);

/** Hex digit value, or 0xff for a non-hex byte. */
export const HEX = new Uint8Array(256).fill(0xff);

/** Reason-phrase bytes: HTAB, SP, VCHAR, obs-text. */
export const REASON = new Uint8Array(256);

/** ASCII lower-case of each byte. */
export const LOWER = new Uint8Array(256);

(function init(): void {
  const tchar = "!#$%&'*+-.^_`|~";
  for (let i = 0; i < tchar.length; i++) NAME[tchar.charCodeAt(i)] = NAME_OK;
  NAME[0x5f] = NAME_OK | NAME_UNDERSCORE; // _
  for (let c = 0x30; c <= 0x39; c++) NAME[c] = NAME_OK;
  for (let c = 0x61; c <= 0x7a; c++) NAME[c] = NAME_OK;
  for (let c = 0x41; c <= 0x5a; c++) NAME[c] = NAME_OK | NAME_UPPER;

  FIELD_VALUE[0x09] = 1;
  for (let c = 0x20; c <= 0x7e; c++) FIELD_VALUE[c] = 1;
  for (let c = 0x80; c <= 0xff; c++) FIELD_VALUE[c] = 1;

  for (let c = 0x21; c <= 0x7e; c++) TARGET[c] = 1;

  const auth = "-._~!$&'()*+,;=:%[]@";
  for (let i = 0; i < auth.length; i++) AUTHORITY[auth.charCodeAt(i)] = 1;
  for (let c = 0x30; c <= 0x39; c++) AUTHORITY[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) AUTHORITY[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) AUTHORITY[c] = 1;

  for (let c = 0x30; c <= 0x39; c++) HEX[c] = c - 0x30;
  for (let c = 0x61; c <= 0x66; c++) HEX[c] = c - 0x61 + 10;
  for (let c = 0x41; c <= 0x46; c++) HEX[c] = c - 0x41 + 10;

  for (let c = 0; c < 256; c++) LOWER[c] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;

  REASON[0x09] = 1;
  for (let c = 0x20; c <= 0x7e; c++) REASON[c] = 1;
  for (let c = 0x80; c <= 0xff; c++) REASON[c] = 1;
})();

/** True when every character of `s` is an authority character (empty is valid, as in nghttp2). */
export function authorityIsValid(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || AUTHORITY[c] === 0) return false;
  }
  return true;
}

/**
 * Case-insensitive search for `token` (lower-case ASCII) in a comma-separated
 * header value such as `Connection: keep-alive, Upgrade`. No allocation.
 */
export function hasToken(value: string | null | undefined, token: string): boolean {
  if (value === null || value === undefined) return false;
  const n = value.length;
  const tl = token.length;
  let i = 0;
  while (i < n) {
    // Skip separators and optional whitespace.
    let c = value.charCodeAt(i);
    while (c === 0x20 || c === 0x09 || c === 0x2c) {
      if (++i >= n) return false;
      c = value.charCodeAt(i);
    }
    const start = i;
    while (i < n && value.charCodeAt(i) !== 0x2c) i++;
    let end = i;
    while (end > start && (value.charCodeAt(end - 1) === 0x20 || value.charCodeAt(end - 1) === 0x09)) end--;
    if (end - start === tl) {
      let j = 0;
      for (; j < tl; j++) {
        // ASCII lower-casing: only letters differ by 0x20.
        let v = value.charCodeAt(start + j);
        if (v >= 0x41 && v <= 0x5a) v |= 0x20;
        if (v !== token.charCodeAt(j)) break;
      }
      if (j === tl) return true;
    }
  }
  return false;
}

/** ASCII case-insensitive equality of `s` with a lower-case literal. */
export function equalsLowerAscii(s: string, lower: string): boolean {
  if (s.length !== lower.length) return false;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Header names common enough to be worth recognising from their bytes: the
 * parser returns these interned lower-case strings instead of slicing and
 * lower-casing, and later `===` lookups on them are pointer compares.
 */
const COMMON_HEADER_NAMES = [
  'accept', 'accept-charset', 'accept-encoding', 'accept-language', 'accept-ranges',
  'access-control-allow-origin', 'access-control-request-headers', 'access-control-request-method',
  'age', 'allow', 'alt-svc', 'authorization', 'baggage', 'cache-control', 'connection',
  'content-disposition', 'content-encoding', 'content-language', 'content-length', 'content-range',
  'content-type', 'cookie', 'date', 'dnt', 'etag', 'expect', 'expires', 'forwarded', 'grpc-encoding',
  'grpc-message', 'grpc-status', 'grpc-timeout', 'host', 'http2-settings', 'if-match',
  'if-modified-since', 'if-none-match', 'if-range', 'if-unmodified-since', 'keep-alive',
  'last-modified', 'link', 'location', 'origin', 'pragma', 'priority', 'proxy-authorization',
  'proxy-connection', 'range', 'referer', 'retry-after', 'sec-ch-ua', 'sec-ch-ua-mobile',
  'sec-ch-ua-platform', 'sec-fetch-dest', 'sec-fetch-mode', 'sec-fetch-site', 'sec-fetch-user',
  'sec-websocket-accept', 'sec-websocket-extensions', 'sec-websocket-key', 'sec-websocket-protocol',
  'sec-websocket-version', 'server', 'set-cookie', 'strict-transport-security', 'te', 'trailer',
  'traceparent', 'tracestate', 'transfer-encoding', 'upgrade', 'upgrade-insecure-requests',
  'user-agent', 'vary', 'via', 'www-authenticate', 'x-amzn-trace-id', 'x-b3-parentspanid',
  'x-b3-sampled', 'x-b3-spanid', 'x-b3-traceid', 'x-content-type-options', 'x-envoy-attempt-count',
  'x-envoy-expected-rq-timeout-ms', 'x-envoy-internal', 'x-envoy-original-path',
  'x-envoy-upstream-service-time', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-port',
  'x-forwarded-proto', 'x-frame-options', 'x-real-ip', 'x-request-id', 'x-requested-with',
];

/** COMMON_HEADER_NAMES grouped by length. */
const KNOWN_BY_LENGTH: string[][] = [];
for (const n of COMMON_HEADER_NAMES) (KNOWN_BY_LENGTH[n.length] ??= []).push(n);

/**
 * The interned lower-case name for the header-name bytes `buf[s, e)` when it
 * is a common one (any letter case), else null. Bytes are known tchars.
 */
export function knownHeaderName(buf: Uint8Array, s: number, e: number): string | null {
  const list = KNOWN_BY_LENGTH[e - s];
  if (list === undefined) return null;
  const c0 = LOWER[buf[s]!];
  const len = e - s;
  outer: for (let k = 0; k < list.length; k++) {
    const cand = list[k]!;
    if (cand.charCodeAt(0) !== c0) continue;
    for (let i = 1; i < len; i++) if (LOWER[buf[s + i]!] !== cand.charCodeAt(i)) continue outer;
    return cand;
  }
  return null;
}
