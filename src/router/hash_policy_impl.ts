/**
 * The route's `hash_policy`, after Envoy's `HashPolicyImpl`
 * (source/common/http/hash_policy.cc): what a request is hashed on for the
 * RING_HASH and MAGLEV load balancers.
 *
 * Each policy may produce a 64-bit XXH64 hash:
 *   - header: every value of the header (after `regex_rewrite`), sorted so
 *     that their order does not matter, hashed in sequence; none when absent;
 *   - cookie: the named cookie's value (surrounding quotes removed). When the
 *     cookie is missing and `ttl` is set, a value is generated from the
 *     downstream connection's addresses and sent back in a `Set-Cookie`
 *     (Max-Age = ttl unless 0, Path, the attributes, HttpOnly) so the client's
 *     next requests stick to the same host;
 *   - connection_properties.source_ip: the downstream IP (after XFF handling);
 *   - query_parameter: the first value of the parameter, as sent (not decoded);
 *   - filter_state: an object in the stream's filter state with a `hash()`
 *     method (Envoy's Hashable), or a string (hashed with XXH64).
 * Hashes combine in order as `rotl(previous, 1) xor new`, so duplicate
 * policies do not cancel out. A `terminal` policy that produced a hash ends
 * the list. With no hash at all the balancer picks at random.
 */
import type { HeaderMap } from '../envoy/http/header_map.js';
import type { AddCookieCallback, CookieAttribute, HashPolicy } from '../envoy/router/router.js';
import type { StreamInfo } from '../envoy/stream_info/stream_info.js';
import type { RouteAction_HashPolicy } from '../generated/envoy/config/route/v3/route_components_pb.js';
import { xxHash64String, xxHash64Strings } from '../common/hash/xxhash64.js';
import { asciiLower } from '../common/matchers/ascii.js';
import { type RegexSubstitution, compileRegexMatchAndSubstitute } from '../common/matchers/regex.js';
import { at, fail } from './config_error.js';

const MASK = 0xffffffffffffffffn;

interface HashMethod {
  readonly terminal: boolean;
  evaluate(headers: HeaderMap, streamInfo: StreamInfo, addCookie: AddCookieCallback): bigint | null;
}

class HeaderHashMethod implements HashMethod {
  constructor(readonly terminal: boolean, private readonly name: string, private readonly rewrite: RegexSubstitution | null) {}

  evaluate(headers: HeaderMap): bigint | null {
    let values = headers.getAll(this.name);
    if (values.length === 0) return null;
    const rw = this.rewrite;
    if (rw !== null) values = values.map((v) => rw.apply(v));
    // Byte order, as std::sort on string_views: the same set of values hashes alike in any order.
    values.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return xxHash64Strings(values);
  }
}

class CookieHashMethod implements HashMethod {
  constructor(
    readonly terminal: boolean,
    private readonly name: string,
    private readonly path: string,
    /** Seconds, or null when no ttl (then a missing cookie gives no hash). */
    private readonly ttlSeconds: number | null,
    private readonly attributes: ReadonlyArray<CookieAttribute>,
  ) {}

  evaluate(headers: HeaderMap, _si: StreamInfo, addCookie: AddCookieCallback): bigint | null {
    let value = parseCookieValue(headers, this.name);
    if (value === '' && this.ttlSeconds !== null) value = addCookie(this.name, this.path, this.ttlSeconds, this.attributes);
    return value === '' ? null : xxHash64String(value);
  }
}

class SourceIpHashMethod implements HashMethod {
  constructor(readonly terminal: boolean) {}

  evaluate(_headers: HeaderMap, si: StreamInfo): bigint | null {
    const ip = ipOf(si.downstreamRemoteAddress);
    return ip === '' ? null : xxHash64String(ip);
  }
}

class QueryParameterHashMethod implements HashMethod {
  constructor(readonly terminal: boolean, private readonly name: string) {}

  evaluate(headers: HeaderMap): bigint | null {
    const value = firstQueryParameter(headers.get(':path') ?? '', this.name);
    return value === null ? null : xxHash64String(value);
  }
}

class FilterStateHashMethod implements HashMethod {
  constructor(readonly terminal: boolean, private readonly key: string) {}

  evaluate(_headers: HeaderMap, si: StreamInfo): bigint | null {
    const obj: unknown = si.filterState.get(this.key);
    if (typeof obj === 'string') return xxHash64String(obj);
    if (typeof obj === 'object' && obj !== null && typeof (obj as { hash?: unknown }).hash === 'function') {
      const h: unknown = (obj as { hash: () => unknown }).hash();
      return typeof h === 'bigint' ? h & MASK : null;
    }
    return null;
  }
}

export class HashPolicyImpl implements HashPolicy {
  private readonly methods: HashMethod[];

  /** Compiles `policies` (`path` is the `hash_policy` field, for errors). Throws RouteConfigError. */
  constructor(policies: ReadonlyArray<RouteAction_HashPolicy>, path: string) {
    this.methods = [];
    policies.forEach((p, i) => {
      const m = compileMethod(p, `${path}[${i}]`);
      if (m !== null) this.methods.push(m);
    });
  }

  generateHash(headers: HeaderMap, streamInfo: StreamInfo, addCookie: AddCookieCallback): bigint | null {
    let hash: bigint | null = null;
    for (const m of this.methods) {
      const h = m.evaluate(headers, streamInfo, addCookie);
      if (h !== null) {
        // Rotating the old value keeps duplicate rules from cancelling out.
        const old: bigint = hash === null ? 0n : ((hash << 1n) | (hash >> 63n)) & MASK;
        hash = old ^ h;
      }
      if (m.terminal && hash !== null) break;
    }
    return hash;
  }
}

function compileMethod(p: RouteAction_HashPolicy, path: string): HashMethod | null {
  const spec = p.policySpecifier;
  switch (spec.case) {
    case 'header': {
      const name = spec.value.headerName;
      if (name === '') fail(`${path}.header.header_name`, 'header_name must not be empty');
      const rr = spec.value.regexRewrite;
      const rewrite = rr === undefined ? null : at(`${path}.header.regex_rewrite`, () => compileRegexMatchAndSubstitute(rr));
      return new HeaderHashMethod(p.terminal, asciiLower(name), rewrite);
    }
    case 'cookie': {
      const c = spec.value;
      if (c.name === '') fail(`${path}.cookie.name`, 'cookie name must not be empty');
      c.attributes.forEach((a, j) => {
        if (a.name === '') fail(`${path}.cookie.attributes[${j}].name`, 'attribute name must not be empty');
      });
      // Envoy takes whole seconds of the ttl.
      const ttl = c.ttl === undefined ? null : Number(c.ttl.seconds);
      if (ttl !== null && ttl < 0) fail(`${path}.cookie.ttl`, 'ttl must not be negative');
      return new CookieHashMethod(p.terminal, c.name, c.path, ttl, c.attributes.map((a) => ({ name: a.name, value: a.value })));
    }
    case 'connectionProperties':
      // source_ip: false asks for nothing (as Envoy, which adds no method).
      return spec.value.sourceIp ? new SourceIpHashMethod(p.terminal) : null;
    case 'queryParameter':
      if (spec.value.name === '') fail(`${path}.query_parameter.name`, 'query parameter name must not be empty');
      return new QueryParameterHashMethod(p.terminal, spec.value.name);
    case 'filterState':
      if (spec.value.key === '') fail(`${path}.filter_state.key`, 'filter state key must not be empty');
      return new FilterStateHashMethod(p.terminal, spec.value.key);
    default:
      return fail(path, 'one of header, cookie, connection_properties, query_parameter or filter_state is required');
  }
}

/**
 * The value of cookie `name` from the request's `cookie` headers, quotes
 * removed, or '' (Envoy's Utility::parseCookieValue).
 */
export function parseCookieValue(headers: HeaderMap, name: string): string {
  for (const header of headers.getAll('cookie')) {
    for (const part of header.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      let start = 0;
      while (start < part.length && part[start] === ' ') start++;
      if (part.slice(start, eq) !== name) continue;
      let v = part.slice(eq + 1);
      if (v.length >= 2 && v[0] === '"' && v[v.length - 1] === '"') v = v.slice(1, -1);
      return v;
    }
  }
  return '';
}

/** The first value of query parameter `name` in `path`, undecoded ('' for `?name`), or null. */
export function firstQueryParameter(path: string, name: string): string | null {
  const q = path.indexOf('?');
  if (q < 0) return null;
  for (const param of path.slice(q + 1).split('&')) {
    const eq = param.indexOf('=');
    const key = eq < 0 ? param : param.slice(0, eq);
    if (key === name) return eq < 0 ? '' : param.slice(eq + 1);
  }
  return null;
}

/** The IP of an `ip:port` / `[ipv6]:port` address ('' when there is none). */
function ipOf(address: string): string {
  if (address.startsWith('[')) {
    const end = address.indexOf(']');
    return end < 0 ? '' : address.slice(1, end);
  }
  const colon = address.lastIndexOf(':');
  return colon < 0 ? address : address.slice(0, colon);
}

/**
 * A `Set-Cookie` value as Envoy's Utility::makeSetCookieValue writes it:
 * `name="value"; Max-Age=ttl; Path=path; attr=value; HttpOnly` (Max-Age
 * omitted for a ttl of 0, Path when empty).
 */
export function makeSetCookieValue(
  name: string,
  value: string,
  path: string,
  maxAgeSeconds: number,
  httpOnly: boolean,
  attributes: ReadonlyArray<CookieAttribute>,
): string {
  let s = `${name}="${value}"`;
  if (maxAgeSeconds !== 0) s += `; Max-Age=${maxAgeSeconds}`;
  if (path !== '') s += `; Path=${path}`;
  for (const a of attributes) s += a.value === '' ? `; ${a.name}` : `; ${a.name}=${a.value}`;
  if (httpOnly) s += '; HttpOnly';
  return s;
}

/**
 * The value of a generated hash cookie: XXH64 of the downstream connection's
 * remote and local addresses, as 16 hex digits. The same for every stream of
 * one connection, so racing requests get the same cookie.
 */
export function generatedCookieValue(streamInfo: StreamInfo): string {
  const h = xxHash64String(streamInfo.downstreamDirectRemoteAddress + streamInfo.downstreamLocalAddress);
  return h.toString(16).padStart(16, '0');
}
