/**
 * FilterChainManager: picks the filter chain for a new connection, after
 * Envoy's `source/common/listener_manager/filter_chain_manager_impl.cc`.
 * Criteria are applied in Envoy's order, each keeping only the most specific
 * matches: destination port, destination IP, server name (SNI),
 * transport protocol, application protocols, direct source IP, source type,
 * source IP, source port. No match: the default chain, or none (the
 * connection is closed and `no_filter_chain_match` counts it).
 */
import { isIP } from 'node:net';
import { isInternalAddress } from '../network/address.js';
import type { NetworkFilterFactoryCb } from '../envoy/network/filter.js';
import type { DownstreamTransportSocketFactory } from '../envoy/network/transport_socket.js';

export interface CidrRange { readonly ip: string; readonly prefixLen: number }

export interface FilterChainMatchSpec {
  readonly destinationPort: number | null;
  readonly prefixRanges: ReadonlyArray<CidrRange>;
  readonly serverNames: ReadonlyArray<string>;
  readonly transportProtocol: string;
  readonly applicationProtocols: ReadonlyArray<string>;
  readonly directSourcePrefixRanges: ReadonlyArray<CidrRange>;
  /** 0 ANY, 1 SAME_IP_OR_LOOPBACK, 2 EXTERNAL. */
  readonly sourceType: number;
  readonly sourcePrefixRanges: ReadonlyArray<CidrRange>;
  readonly sourcePorts: ReadonlyArray<number>;
}

export interface FilterChain {
  readonly name: string;
  readonly match: FilterChainMatchSpec;
  readonly filterFactories: ReadonlyArray<NetworkFilterFactoryCb>;
  /** The chain's TLS transport socket, or null for raw_buffer. */
  readonly transportSocketFactory: DownstreamTransportSocketFactory | null;
  /** transport_socket_connect_timeout in ms (0: the listener's default bound). */
  readonly transportSocketConnectTimeoutMs: number;
}

/** What is known about a connection when its chain is chosen. */
export interface ConnectionMatchInfo {
  readonly localIp: string;
  readonly localPort: number;
  readonly remoteIp: string;
  readonly remotePort: number;
  readonly serverName: string;
  readonly transportProtocol: string;
  readonly applicationProtocols: ReadonlyArray<string>;
}

function ipToBigInt(ip: string): { v: bigint; bits: number } | null {
  if (ip.startsWith('::ffff:') && ip.includes('.')) ip = ip.slice(7);
  const fam = isIP(ip);
  if (fam === 4) {
    const p = ip.split('.').map(Number);
    return { v: BigInt(((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!), bits: 32 };
  }
  if (fam === 6) {
    const [head, tail] = ip.split('::') as [string, string | undefined];
    const h = head ? head.split(':') : [];
    const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    let v = 0n;
    for (const g of groups) v = (v << 16n) + BigInt(parseInt(g || '0', 16));
    return { v, bits: 128 };
  }
  return null;
}

export function cidrContains(range: CidrRange, ip: string): boolean {
  const a = ipToBigInt(range.ip);
  const b = ipToBigInt(ip);
  if (a === null || b === null || a.bits !== b.bits) return false;
  const shift = BigInt(a.bits - range.prefixLen);
  return (a.v >> shift) === (b.v >> shift);
}

/** Longest matching prefix length, -1 when none matches, 0 when the list is empty (wildcard). */
function bestPrefix(ranges: ReadonlyArray<CidrRange>, ip: string): number {
  if (ranges.length === 0) return 0;
  let best = -1;
  for (const r of ranges) if (cidrContains(r, ip) && r.prefixLen + 1 > best) best = r.prefixLen + 1;
  return best;
}

function serverNameScore(names: ReadonlyArray<string>, sni: string): number {
  if (names.length === 0) return 0;
  const s = sni.toLowerCase();
  let best = -1;
  for (const n of names) {
    if (n === s) return 1_000_000;
    if (n.startsWith('*.') && s.endsWith(n.slice(1)) && n.length > best) best = n.length;
  }
  return best;
}

export class FilterChainManager {
  constructor(readonly chains: ReadonlyArray<FilterChain>, readonly defaultChain: FilterChain | null) {}

  /** Narrows candidates by one criterion, keeping the best-scoring (-1 = no match). */
  private static narrow(cands: FilterChain[], score: (c: FilterChain) => number): FilterChain[] {
    let best = -1;
    let out: FilterChain[] = [];
    for (const c of cands) {
      const s = score(c);
      if (s < 0) continue;
      if (s > best) { best = s; out = [c]; } else if (s === best) out.push(c);
    }
    return out;
  }

  findFilterChain(info: ConnectionMatchInfo): FilterChain | null {
    let c = this.chains.slice();
    const n = FilterChainManager.narrow;
    c = n(c, (f) => f.match.destinationPort === null ? 0 : f.match.destinationPort === info.localPort ? 1 : -1);
    c = n(c, (f) => bestPrefix(f.match.prefixRanges, info.localIp));
    c = n(c, (f) => serverNameScore(f.match.serverNames, info.serverName));
    c = n(c, (f) => f.match.transportProtocol === '' ? 0 : f.match.transportProtocol === info.transportProtocol ? 1 : -1);
    c = n(c, (f) => f.match.applicationProtocols.length === 0 ? 0
      : f.match.applicationProtocols.some((p) => info.applicationProtocols.includes(p)) ? 1 : -1);
    c = n(c, (f) => bestPrefix(f.match.directSourcePrefixRanges, info.remoteIp));
    c = n(c, (f) => {
      const t = f.match.sourceType;
      if (t === 0) return 0;
      const local = isInternalAddress(info.remoteIp) && (info.remoteIp === info.localIp || info.remoteIp.startsWith('127.') || info.remoteIp === '::1');
      return (t === 1) === local ? 1 : -1;
    });
    c = n(c, (f) => bestPrefix(f.match.sourcePrefixRanges, info.remoteIp));
    c = n(c, (f) => f.match.sourcePorts.length === 0 ? 0 : f.match.sourcePorts.includes(info.remotePort) ? 1 : -1);
    if (c.length > 0) return c[0]!;
    return this.defaultChain;
  }
}

/** Rejects configs where two chains have identical match criteria (Envoy does). */
export function checkNoDuplicateMatches(chains: ReadonlyArray<FilterChain>, listenerName: string): void {
  const seen = new Map<string, string>();
  for (const c of chains) {
    const key = JSON.stringify(c.match);
    const prev = seen.get(key);
    if (prev !== undefined) {
      throw new Error(`error adding listener '${listenerName}': multiple filter chains with the same matching rules are defined`);
    }
    seen.set(key, c.name);
  }
}
