/**
 * `:authority` helpers, after Envoy's `Http::HeaderUtility::getPortStart`,
 * `stripPortFromHost` and `stripTrailingHostDot`
 * (`source/common/http/header_utility.cc`) and the HCM's `maybeNormalizeHost`
 * (`strip_trailing_host_dot`, then `strip_any_host_port` or
 * `strip_matching_host_port`).
 *
 * The route table applies the normalisation to the value it matches virtual
 * hosts against; the HCM should call `maybeNormalizeHost` on the request
 * headers too, as Envoy rewrites `:authority` itself (so the upstream sees the
 * stripped host).
 */
import type { HeaderMap } from '../envoy/http/header_map.js';

/** HCM host normalisation settings. */
export interface HostNormalization {
  /** HCM `strip_trailing_host_dot`. */
  readonly stripTrailingHostDot?: boolean;
  /** HCM `strip_matching_host_port`: strip the port when it equals the listener's port. */
  readonly stripMatchingHostPort?: boolean;
  /** HCM `strip_any_host_port`: strip any port. */
  readonly stripAnyHostPort?: boolean;
}

/** Index of the `:` that starts the port, or -1 (IPv6 literals are in `[]`). */
export function getPortStart(host: string): number {
  const portStart = host.lastIndexOf(':');
  if (portStart === -1) return -1;
  const v6End = host.lastIndexOf(']');
  if (v6End === -1 || v6End < portStart) return portStart;
  return -1;
}

/** absl::SimpleAtoi into a uint32, or -1. */
function parseUint32(s: string): number {
  let b = 0;
  let e = s.length;
  const ws = (c: number) => c === 32 || (c >= 9 && c <= 13);
  while (b < e && ws(s.charCodeAt(b))) b++;
  while (e > b && ws(s.charCodeAt(e - 1))) e--;
  if (b < e && s[b] === '+') b++;
  if (b === e) return -1;
  let v = 0;
  for (let i = b; i < e; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    v = v * 10 + (c - 48);
    if (v > 0xffffffff) return -1;
  }
  return v;
}

/**
 * `host` without its port when it has a numeric port and (when `listenerPort`
 * is not null) that port equals `listenerPort`; else `host` unchanged.
 */
export function stripPortFromHost(host: string, listenerPort: number | null): string {
  const portStart = getPortStart(host);
  if (portStart === -1) return host;
  const port = parseUint32(host.slice(portStart + 1));
  if (port === -1) return host;
  if (listenerPort !== null && port !== listenerPort) return host;
  return host.slice(0, portStart);
}

/** Removes a trailing `.` of the host name (before the port, if any). */
export function stripTrailingHostDot(host: string): string {
  const dot = host.lastIndexOf('.');
  if (dot === -1) return host;
  if (dot === host.length - 1) return host.slice(0, dot);
  if (host.charCodeAt(dot + 1) === 58 /* : */) return host.slice(0, dot) + host.slice(dot + 1);
  return host;
}

/** The port of an `ip:port` / `[ip]:port` address string, or null. */
export function portOfAddress(address: string): number | null {
  const i = address.lastIndexOf(':');
  if (i === -1) return null;
  const p = parseUint32(address.slice(i + 1));
  return p === -1 ? null : p;
}

/** Applies the HCM host normalisation to a host value. */
export function normalizeHost(host: string, opts: HostNormalization, listenerPort: number | null): string {
  let h = host;
  if (opts.stripTrailingHostDot) h = stripTrailingHostDot(h);
  if (opts.stripAnyHostPort) h = stripPortFromHost(h, null);
  else if (opts.stripMatchingHostPort && listenerPort !== null) h = stripPortFromHost(h, listenerPort);
  return h;
}

/** Rewrites `:authority` in place as Envoy's HCM does before routing. */
export function maybeNormalizeHost(headers: HeaderMap, opts: HostNormalization, listenerPort: number | null): void {
  const host = headers.get(':authority');
  if (host === undefined) return;
  const h = normalizeHost(host, opts, listenerPort);
  if (h !== host) headers.set(':authority', h);
}
