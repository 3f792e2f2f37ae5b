/**
 * ClientHello parsing core of `envoy.filters.listener.tls_inspector`.
 *
 * A pure, stateless parser: the caller peeks the first bytes of a connection, concatenates
 * every read so far and calls `parseClientHello` again with the whole buffer until the status
 * is no longer `need_more`. Nothing is allocated on the common path (one TLS record holding the
 * whole ClientHello); a ClientHello fragmented over several records is reassembled into one
 * buffer of exactly the message's size.
 *
 * Envoy feeds the peeked bytes to BoringSSL and aborts the handshake from the SNI callback
 * (source/extensions/filters/listener/tls_inspector/tls_inspector.cc). The mapping of the
 * results below onto Envoy's `tls_inspector.*` stats is:
 *
 * - `need_more` — no stat; keep peeking (SSL_ERROR_WANT_READ). When the buffer has reached
 *   `maxBytes` and the hello is still incomplete this parser returns
 *   `error` / `client_hello_too_large` instead, as Envoy does.
 * - `not_tls` — `tls_not_found`: the first bytes are not a TLS handshake record (plaintext
 *   HTTP, SSLv2-style hello, ...); the detected transport protocol stays `raw_buffer`.
 * - `error` with reason `client_hello_too_large` — `client_hello_too_large`; Envoy closes the
 *   connection (failure_reason metadata "ClientHello too large").
 * - `error` with any other reason — a TLS record that BoringSSL would reject before the SNI
 *   callback. Envoy cannot tell this from plaintext: by default it counts `tls_not_found` and
 *   continues with `raw_buffer`; with `close_connection_on_client_hello_parsing_errors` it
 *   closes the connection instead. The caller decides, `reason` says why.
 * - `done` — `tls_found` (transport protocol "tls"), plus `sni_found` when `serverName` is
 *   non-empty else `sni_not_found`, and `alpn_found` when `alpn` is non-empty else
 *   `alpn_not_found`.
 *
 * References: RFC 8446 §5.1 (record layer, fragmentation), §4.1.2 (ClientHello), §4.2
 * (extensions, no duplicates), §4.2.1 (supported_versions, type 43); RFC 6066 §3
 * (server_name, type 0, host_name type 0); RFC 7301 §3.1 (ALPN, type 16).
 */

/** Envoy's TLS_MAX_CLIENT_HELLO: the most bytes the inspector will peek. */
export const TLS_MAX_CLIENT_HELLO = 16384;

const CONTENT_TYPE_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const MAX_PLAINTEXT_RECORD = 1 << 14; // RFC 8446 §5.1: record length MUST NOT exceed 2^14
const RECORD_HEADER = 5;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const EXT_SUPPORTED_VERSIONS = 43;
const NAME_TYPE_HOST_NAME = 0;
const MAX_HOST_NAME = 255; // BoringSSL's TLSEXT_MAXLEN_host_name

export type ClientHelloErrorReason =
  /** The hello did not fit in `maxBytes` (stat `client_hello_too_large`). */
  | 'client_hello_too_large'
  /** A record header is invalid (zero length, over 2^14, non-handshake record mid-hello). */
  | 'bad_record'
  /** The first handshake message is not a ClientHello. */
  | 'not_client_hello'
  /** The ClientHello body or one of the inspected extensions is malformed. */
  | 'malformed_client_hello'
  /** The same extension type appears twice (RFC 8446 §4.2). */
  | 'duplicate_extension'
  /** No version between TLS 1.0 and TLS 1.3 is offered (Envoy's min/max supported). */
  | 'unsupported_version';

export interface ClientHelloVersions {
  /** ClientHello.legacy_version (0x0303 for TLS 1.2 and 1.3 clients). */
  legacy: number;
  /** The supported_versions extension in client order, GREASE included; [] when absent. */
  supported: number[];
}

export type ClientHelloResult =
  | { status: 'need_more' }
  | { status: 'not_tls' }
  | { status: 'error'; reason: ClientHelloErrorReason; detail: string }
  | {
      status: 'done';
      /** SNI host_name, lower-cased; '' when the client sent no server_name. */
      serverName: string;
      /** ALPN protocol names in client order; [] when absent (or malformed, as in Envoy). */
      alpn: string[];
      versions: ClientHelloVersions;
      /** Wire bytes up to the end of the record that completed the ClientHello. */
      bytesProcessed: number;
    };

const NEED_MORE: ClientHelloResult = Object.freeze({ status: 'need_more' });
const NOT_TLS: ClientHelloResult = Object.freeze({ status: 'not_tls' });
const TOO_LARGE: ClientHelloResult = Object.freeze({
  status: 'error',
  reason: 'client_hello_too_large',
  detail: 'ClientHello too large',
});

function fail(reason: ClientHelloErrorReason, detail: string): ClientHelloResult {
  return { status: 'error', reason, detail };
}

function malformed(detail: string): ClientHelloResult {
  return fail('malformed_client_hello', detail);
}

/** Out of bytes: wait for more unless the peek limit has been reached. */
function needMore(have: number, maxBytes: number): ClientHelloResult {
  return have >= maxBytes ? TOO_LARGE : NEED_MORE;
}

/**
 * Parse a TLS ClientHello from the first bytes of a connection.
 * @param buf every byte received so far (the caller concatenates reads)
 * @param maxBytes peek limit; a hello needing more wire bytes is `client_hello_too_large`
 */
export function parseClientHello(buf: Buffer, maxBytes: number = TLS_MAX_CLIENT_HELLO): ClientHelloResult {
  const len = buf.length;
  let pos = 0; // start of the current record
  let hdrSeen = 0; // handshake header bytes seen (type + 24-bit length)
  let msgLen = 0;
  let msg: Buffer | undefined; // reassembly buffer, only for a fragmented hello
  let got = 0; // body bytes copied into msg

  for (;;) {
    // Record header: ContentType(1) ProtocolVersion(2) length(2).
    if (pos >= len) return needMore(len, maxBytes);
    if (buf[pos] !== CONTENT_TYPE_HANDSHAKE) {
      return pos === 0 ? NOT_TLS : fail('bad_record', `record type ${buf[pos]} inside the ClientHello`);
    }
    if (pos + 1 >= len) return needMore(len, maxBytes);
    if (buf[pos + 1] !== 3) {
      return pos === 0 ? NOT_TLS : fail('bad_record', `record version major ${buf[pos + 1]}`);
    }
    if (pos + RECORD_HEADER > len) return needMore(len, maxBytes);
    const recLen = (buf[pos + 3]! << 8) | buf[pos + 4]!;
    if (recLen === 0) return fail('bad_record', 'empty handshake record');
    if (recLen > MAX_PLAINTEXT_RECORD) return fail('bad_record', `record length ${recLen} exceeds 2^14`);

    const start = pos + RECORD_HEADER;
    const end = start + recLen;
    const avail = end < len ? end : len;
    let i = start;

    // Handshake header, possibly split across records.
    while (hdrSeen < 4 && i < avail) {
      const b = buf[i++]!;
      if (hdrSeen === 0) {
        if (b !== HANDSHAKE_CLIENT_HELLO) return fail('not_client_hello', `handshake type ${b}`);
      } else {
        msgLen = msgLen * 256 + b;
      }
      hdrSeen++;
    }

    if (hdrSeen === 4) {
      // At least the rest of the body must still arrive: fail early when it cannot fit.
      if (i + (msgLen - got) > maxBytes) return TOO_LARGE;
      if (msg === undefined && i + msgLen <= end) {
        // Common case: the whole ClientHello is in this record; parse it in place.
        if (end > len) return needMore(len, maxBytes);
        return parseBody(buf, i, i + msgLen, end);
      }
      msg ??= Buffer.allocUnsafe(msgLen);
      const room = msgLen - got;
      const n = avail - i < room ? avail - i : room;
      buf.copy(msg, got, i, i + n);
      got += n;
      if (got === msgLen) {
        if (end > len) return needMore(len, maxBytes);
        return parseBody(msg, 0, msgLen, end);
      }
    }

    if (end > len) return needMore(len, maxBytes);
    pos = end;
  }
}

/** Parse a ClientHello body (after the 4-byte handshake header) occupying b[off, stop). */
function parseBody(b: Buffer, off: number, stop: number, bytesProcessed: number): ClientHelloResult {
  let p = off;
  if (stop - p < 2 + 32 + 1) return malformed('truncated ClientHello');
  const legacy = (b[p]! << 8) | b[p + 1]!;
  p += 2 + 32; // legacy_version, random

  const sidLen = b[p++]!;
  if (sidLen > 32) return malformed('legacy_session_id longer than 32 bytes');
  p += sidLen;

  if (p + 2 > stop) return malformed('truncated cipher_suites');
  const csLen = (b[p]! << 8) | b[p + 1]!;
  p += 2;
  if (csLen < 2 || (csLen & 1) !== 0 || p + csLen > stop) return malformed('bad cipher_suites length');
  p += csLen;

  if (p + 1 > stop) return malformed('truncated legacy_compression_methods');
  const cmLen = b[p++]!;
  if (cmLen < 1 || p + cmLen > stop) return malformed('bad legacy_compression_methods length');
  p += cmLen;

  let serverName = '';
  let alpn: string[] = [];
  let supported: number[] = [];

  // Extensions are optional before TLS 1.3 (RFC 5246 §7.4.1.2).
  if (p < stop) {
    if (p + 2 > stop) return malformed('truncated extensions length');
    const extsLen = (b[p]! << 8) | b[p + 1]!;
    p += 2;
    const extsStart = p;
    if (p + extsLen !== stop) return malformed('extensions length does not match the ClientHello');
    while (p < stop) {
      if (p + 4 > stop) return malformed('truncated extension header');
      const type = (b[p]! << 8) | b[p + 1]!;
      const eLen = (b[p + 2]! << 8) | b[p + 3]!;
      const eStart = p + 4;
      const eEnd = eStart + eLen;
      if (eEnd > stop) return malformed(`extension ${type} overruns the ClientHello`);
      if (hasExtensionBefore(b, extsStart, p, type)) return fail('duplicate_extension', `extension ${type} repeated`);

      if (type === EXT_SERVER_NAME) {
        const sni = parseServerName(b, eStart, eEnd);
        if (sni === undefined) return malformed('bad server_name extension');
        serverName = sni;
      } else if (type === EXT_ALPN) {
        alpn = parseAlpn(b, eStart, eEnd);
      } else if (type === EXT_SUPPORTED_VERSIONS) {
        const v = parseSupportedVersions(b, eStart, eEnd);
        if (v === undefined) return malformed('bad supported_versions extension');
        supported = v;
      }
      p = eEnd;
    }
  }

  if (!offersSupportedVersion(legacy, supported)) {
    return fail('unsupported_version', 'no TLS version between 1.0 and 1.3 offered');
  }

  return { status: 'done', serverName, alpn, versions: { legacy, supported }, bytesProcessed };
}

/** Whether an extension of `type` occurs in b[from, to) — no allocation, hellos have few extensions. */
function hasExtensionBefore(b: Buffer, from: number, to: number, type: number): boolean {
  for (let q = from; q < to; ) {
    if (((b[q]! << 8) | b[q + 1]!) === type) return true;
    q += 4 + ((b[q + 2]! << 8) | b[q + 3]!);
  }
  return false;
}

/**
 * RFC 6066 §3 ServerNameList. Returns the host_name lower-cased, or undefined when malformed
 * (BoringSSL rejects such hellos before the SNI callback). Unknown name types are skipped.
 */
function parseServerName(b: Buffer, start: number, end: number): string | undefined {
  if (end - start < 2) return undefined;
  const listLen = (b[start]! << 8) | b[start + 1]!;
  let p = start + 2;
  if (listLen === 0 || p + listLen !== end) return undefined;
  let host: string | undefined;
  while (p < end) {
    if (p + 3 > end) return undefined;
    const nameType = b[p]!;
    const nLen = (b[p + 1]! << 8) | b[p + 2]!;
    p += 3;
    if (p + nLen > end) return undefined;
    if (nameType === NAME_TYPE_HOST_NAME) {
      // "MUST NOT contain more than one name of the same name_type"
      if (host !== undefined || nLen === 0 || nLen > MAX_HOST_NAME) return undefined;
      for (let q = p; q < p + nLen; q++) if (b[q] === 0) return undefined;
      host = b.toString('latin1', p, p + nLen).toLowerCase();
    }
    p += nLen;
  }
  return host ?? '';
}

/**
 * RFC 7301 §3.1 ProtocolNameList. Like Envoy's Filter::onALPN, a malformed list yields no
 * protocols rather than an error ("let the real TLS stack do it").
 */
function parseAlpn(b: Buffer, start: number, end: number): string[] {
  if (end - start < 2) return [];
  const listLen = (b[start]! << 8) | b[start + 1]!;
  let p = start + 2;
  if (p + listLen !== end || listLen < 2) return [];
  const out: string[] = [];
  while (p < end) {
    const nLen = b[p++]!;
    if (nLen === 0 || p + nLen > end) return [];
    out.push(b.toString('latin1', p, p + nLen));
    p += nLen;
  }
  return out;
}

/** RFC 8446 §4.2.1 ClientHello form: ProtocolVersion versions<2..254>. */
function parseSupportedVersions(b: Buffer, start: number, end: number): number[] | undefined {
  if (end - start < 1) return undefined;
  const listLen = b[start]!;
  let p = start + 1;
  if (listLen < 2 || (listLen & 1) !== 0 || p + listLen !== end) return undefined;
  const out: number[] = [];
  for (; p < end; p += 2) out.push((b[p]! << 8) | b[p + 1]!);
  return out;
}

/** Envoy pins BoringSSL to TLS 1.0 .. TLS 1.3; supported_versions overrides legacy_version. */
function offersSupportedVersion(legacy: number, supported: number[]): boolean {
  if (supported.length === 0) return legacy >= 0x0301;
  for (const v of supported) if (v >= 0x0301 && v <= 0x0304) return true;
  return false;
}
