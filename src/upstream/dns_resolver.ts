/**
 * DNS resolution for STRICT_DNS and LOGICAL_DNS clusters, on `node:dns`.
 *
 * Two resolvers, matching Envoy's two portable DNS resolver extensions:
 *
 * - `cares` (Envoy's default, `envoy.network.dns_resolver.cares`): a
 *   `node:dns` Resolver (c-ares) doing `resolve4`/`resolve6` with TTLs, on the
 *   configured servers (`CaresDnsResolverConfig.resolvers`,
 *   `dns_resolution_config.resolvers`, the deprecated `dns_resolvers`) or the
 *   system ones. Like Envoy's c-ares `getaddrinfo` path, a name is looked up in
 *   the hosts file first (TTL 0), and `localhost` / `*.localhost` falls back to
 *   the loopback address of the family when the hosts file lacks it.
 * - `getaddrinfo` (`envoy.network.dns_resolver.getaddrinfo`): `dns.lookup`, the
 *   system resolver (nsswitch, hosts file); no TTLs.
 *
 * IP literals never reach DNS. Result semantics follow Envoy: NODATA and
 * NXDOMAIN are a *completed* resolution with no addresses (Envoy removed the
 * `dns_nodata_noname_is_success` guard in 1.34, it is always on); SERVFAIL,
 * REFUSED, timeouts and the like are failures.
 *
 * `dns_lookup_family` (api/envoy/config/cluster/v3/cluster.proto):
 * - V4_ONLY / V6_ONLY: that family only;
 * - AUTO: IPv6 first, IPv4 if IPv6 produced no address (AUTO is "V6_PREFERRED");
 * - V4_PREFERRED: IPv4 first, IPv6 if IPv4 produced no address;
 * - ALL: both families, IPv4 answers first then IPv6.
 * With a fallback, the second lookup's outcome is the result.
 */
import { promises as fsp } from 'node:fs';
import { getServers, lookup, Resolver, type RecordWithTtl } from 'node:dns';
import { isIP } from 'node:net';
import type { Cluster } from '../generated/envoy/config/cluster/v3/cluster_pb.js';
import type { Address } from '../generated/envoy/config/core/v3/address_pb.js';
import type { TypedExtensionConfig } from '../generated/envoy/config/core/v3/extension_pb.js';
import type { CaresDnsResolverConfig } from '../generated/envoy/extensions/network/dns_resolver/cares/v3/cares_dns_resolver_pb.js';
import { DnsLookupFamilyValue, enumName } from './proto_enums.js';
import { ConfigError, anyTypeName, notSupportedYet, socketAddressOf, unpack } from './proto_util.js';

export type DnsLookupFamily = 'auto' | 'v4_only' | 'v6_only' | 'v4_preferred' | 'all';

export function dnsLookupFamilyOf(value: number, fieldPath: string): DnsLookupFamily {
  switch (value) {
    case DnsLookupFamilyValue.AUTO:
      return 'auto';
    case DnsLookupFamilyValue.V4_ONLY:
      return 'v4_only';
    case DnsLookupFamilyValue.V6_ONLY:
      return 'v6_only';
    case DnsLookupFamilyValue.V4_PREFERRED:
      return 'v4_preferred';
    case DnsLookupFamilyValue.ALL:
      return 'all';
    default:
      throw new ConfigError(fieldPath, `unknown dns_lookup_family ${enumName(DnsLookupFamilyValue, value)}`);
  }
}

export interface DnsAnswer {
  address: string;
  /** Seconds; 0 when unknown (hosts file, getaddrinfo, literals). */
  ttlSeconds: number;
}

export type DnsResolution =
  | { status: 'completed'; answers: DnsAnswer[] }
  | { status: 'failure'; details: string };

export interface DnsResolver {
  /** Resolves `name`; never rejects (failures are a `failure` resolution). */
  resolve(name: string, family: DnsLookupFamily): Promise<DnsResolution>;
  /** Cancels outstanding queries (they complete as failures) and frees the resolver. */
  close(): void;
}

export type DnsResolverConfig =
  | {
      kind: 'cares';
      /** `ip:port` / `[ip6]:port`; empty = system servers. */
      servers: string[];
      /** `use_resolvers_as_fallback`: use `servers` only when the system has none. */
      useResolversAsFallback?: boolean;
    }
  | { kind: 'getaddrinfo' };

export interface DnsResolverOptions {
  /** Per-try query timeout in ms (c-ares default when unset). */
  timeoutMs?: number;
  /** Tries per server (c-ares default 4). */
  tries?: number;
  /** Hosts file consulted by the c-ares resolver first; null to skip. Default /etc/hosts. */
  hostsFile?: string | null;
}

type FamilyResult = { kind: 'ok'; answers: DnsAnswer[] } | { kind: 'nodata' } | { kind: 'error'; details: string };

const NODATA_CODES = new Set(['ENODATA', 'ENOTFOUND']);

function toResolution(r: FamilyResult): DnsResolution {
  if (r.kind === 'ok') return { status: 'completed', answers: r.answers };
  if (r.kind === 'nodata') return { status: 'completed', answers: [] };
  return { status: 'failure', details: r.details };
}

function hasAnswers(r: FamilyResult): boolean {
  return r.kind === 'ok' && r.answers.length > 0;
}

/** Applies the lookup-family policy over a per-family query function. */
async function resolveWithFamily(family: DnsLookupFamily, query: (fam: 4 | 6) => Promise<FamilyResult>): Promise<DnsResolution> {
  switch (family) {
    case 'v4_only':
      return toResolution(await query(4));
    case 'v6_only':
      return toResolution(await query(6));
    case 'auto':
    case 'v4_preferred': {
      const [first, second]: [4 | 6, 4 | 6] = family === 'auto' ? [6, 4] : [4, 6];
      const r1 = await query(first);
      if (hasAnswers(r1)) return toResolution(r1);
      return toResolution(await query(second));
    }
    case 'all': {
      const [r4, r6] = await Promise.all([query(4), query(6)]);
      if (r4.kind === 'error' && r6.kind === 'error') return { status: 'failure', details: `${r4.details}; ${r6.details}` };
      const answers = [...(r4.kind === 'ok' ? r4.answers : []), ...(r6.kind === 'ok' ? r6.answers : [])];
      return { status: 'completed', answers };
    }
  }
}

function literalResult(name: string, fam: 4 | 6): FamilyResult | null {
  const v = isIP(name);
  if (v === 0) return null;
  return v === fam ? { kind: 'ok', answers: [{ address: name, ttlSeconds: 0 }] } : { kind: 'nodata' };
}

/** Parses a hosts file into name -> addresses (lower-cased names). */
export function parseHostsFile(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const [ip, ...names] = line.split(/\s+/);
    if (isIP(ip) === 0) continue;
    for (const n of names) {
      const key = n.toLowerCase();
      const list = out.get(key) ?? [];
      if (!list.includes(ip)) list.push(ip);
      out.set(key, list);
    }
  }
  return out;
}

function isLocalhostName(name: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  return n === 'localhost' || n.endsWith('.localhost');
}

/** c-ares based resolver: hosts file, then DNS with TTLs. */
export class CaresDnsResolver implements DnsResolver {
  private readonly resolver: Resolver;
  private readonly hostsFile: string | null;
  private closed = false;

  constructor(servers: string[], options: DnsResolverOptions = {}) {
    const ctorOpts: { timeout?: number; tries?: number } = {};
    if (options.timeoutMs !== undefined) ctorOpts.timeout = options.timeoutMs;
    if (options.tries !== undefined) ctorOpts.tries = options.tries;
    this.resolver = new Resolver(ctorOpts);
    if (servers.length > 0) this.resolver.setServers(servers);
    this.hostsFile = options.hostsFile === undefined ? '/etc/hosts' : options.hostsFile;
  }

  /** The servers queried (for admin and tests). */
  servers(): string[] {
    return this.resolver.getServers();
  }

  resolve(name: string, family: DnsLookupFamily): Promise<DnsResolution> {
    return resolveWithFamily(family, (fam) => this.queryFamily(name, fam));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.resolver.cancel();
  }

  private async hostsEntries(name: string): Promise<string[] | undefined> {
    if (this.hostsFile === null) return undefined;
    let text: string;
    try {
      text = await fsp.readFile(this.hostsFile, 'utf8');
    } catch {
      return undefined;
    }
    return parseHostsFile(text).get(name.toLowerCase().replace(/\.$/, ''));
  }

  private async queryFamily(name: string, fam: 4 | 6): Promise<FamilyResult> {
    const lit = literalResult(name, fam);
    if (lit !== null) return lit;
    const fromFile = (await this.hostsEntries(name))?.filter((ip) => isIP(ip) === fam);
    if (fromFile !== undefined && fromFile.length > 0) {
      return { kind: 'ok', answers: fromFile.map((address) => ({ address, ttlSeconds: 0 })) };
    }
    if (isLocalhostName(name)) {
      return { kind: 'ok', answers: [{ address: fam === 4 ? '127.0.0.1' : '::1', ttlSeconds: 0 }] };
    }
    if (this.closed) return { kind: 'error', details: 'resolver closed' };
    return new Promise<FamilyResult>((resolve) => {
      const cb = (err: NodeJS.ErrnoException | null, records: RecordWithTtl[]): void => {
        if (err !== null) {
          const code = err.code ?? 'EUNKNOWN';
          resolve(NODATA_CODES.has(code) ? { kind: 'nodata' } : { kind: 'error', details: `${code} (${name}, IPv${fam})` });
          return;
        }
        resolve(
          records.length === 0
            ? { kind: 'nodata' }
            : { kind: 'ok', answers: records.map((r) => ({ address: r.address, ttlSeconds: r.ttl })) },
        );
      };
      if (fam === 4) this.resolver.resolve4(name, { ttl: true }, cb);
      else this.resolver.resolve6(name, { ttl: true }, cb);
    });
  }
}

/** getaddrinfo based resolver (`dns.lookup`): system rules, no TTL. */
export class GetAddrInfoDnsResolver implements DnsResolver {
  resolve(name: string, family: DnsLookupFamily): Promise<DnsResolution> {
    return resolveWithFamily(family, (fam) => this.queryFamily(name, fam));
  }

  close(): void {}

  private queryFamily(name: string, fam: 4 | 6): Promise<FamilyResult> {
    const lit = literalResult(name, fam);
    if (lit !== null) return Promise.resolve(lit);
    return new Promise<FamilyResult>((resolve) => {
      lookup(name, { family: fam, all: true, verbatim: true }, (err, addrs) => {
        if (err !== null) {
          const code = err.code ?? 'EUNKNOWN';
          resolve(NODATA_CODES.has(code) ? { kind: 'nodata' } : { kind: 'error', details: `${code} (${name}, IPv${fam})` });
          return;
        }
        const answers = addrs.filter((a) => a.family === fam).map((a) => ({ address: a.address, ttlSeconds: 0 }));
        resolve(answers.length === 0 ? { kind: 'nodata' } : { kind: 'ok', answers });
      });
    });
  }
}

export function createDnsResolver(config: DnsResolverConfig | undefined, options: DnsResolverOptions = {}): DnsResolver {
  if (config?.kind === 'getaddrinfo') return new GetAddrInfoDnsResolver();
  let servers = config?.servers ?? [];
  if (config?.kind === 'cares' && config.useResolversAsFallback === true && getServers().length > 0) servers = [];
  return new CaresDnsResolver(servers, options);
}

const CARES_TYPE = 'envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig';
const GETADDRINFO_TYPE = 'envoy.extensions.network.dns_resolver.getaddrinfo.v3.GetAddrInfoDnsResolverConfig';
const APPLE_TYPE = 'envoy.extensions.network.dns_resolver.apple.v3.AppleDnsResolverConfig';

/** `ip:port` for `Resolver.setServers`, from a resolver Address (port 0 means 53). */
function serverOf(addr: Address, fieldPath: string): string {
  const sa = socketAddressOf(addr, fieldPath);
  const v = isIP(sa.address);
  if (v === 0) throw new ConfigError(`${fieldPath}.socket_address.address`, `DNS resolver address must be an IP, got '${sa.address}'`);
  const port = sa.port === 0 ? 53 : sa.port;
  return v === 6 ? `[${sa.address}]:${port}` : `${sa.address}:${port}`;
}

/**
 * A resolver config from a `typed_dns_resolver_config` (cluster or bootstrap).
 * `envoy.network.dns_resolver.cares` and `.getaddrinfo` are supported.
 */
export function dnsResolverConfigFromTyped(tec: TypedExtensionConfig, fieldPath: string): DnsResolverConfig {
  const path = `${fieldPath}.typed_config`;
  if (tec.typedConfig === undefined) throw new ConfigError(path, 'typed_config is required');
  const typeName = anyTypeName(tec.typedConfig);
  switch (typeName) {
    case CARES_TYPE: {
      const c = unpack<CaresDnsResolverConfig>(tec.typedConfig, path);
      return {
        kind: 'cares',
        servers: c.resolvers.map((a, i) => serverOf(a, `${path}.resolvers[${i}]`)),
        useResolversAsFallback: c.useResolversAsFallback,
      };
    }
    case GETADDRINFO_TYPE:
      return { kind: 'getaddrinfo' };
    case APPLE_TYPE:
      throw notSupportedYet(fieldPath, 'the Apple DNS resolver');
    default:
      throw notSupportedYet(fieldPath, `DNS resolver '${tec.name || typeName}'`);
  }
}

/**
 * The cluster's own resolver config, in Envoy's precedence:
 * `typed_dns_resolver_config`, then `dns_resolution_config`, then the
 * deprecated `dns_resolvers`. Undefined when the cluster sets none (use the
 * bootstrap default).
 */
export function dnsResolverConfigFromCluster(cluster: Cluster, base: string): DnsResolverConfig | undefined {
  if (cluster.typedDnsResolverConfig !== undefined) {
    return dnsResolverConfigFromTyped(cluster.typedDnsResolverConfig, `${base}.typed_dns_resolver_config`);
  }
  if (cluster.dnsResolutionConfig !== undefined) {
    return {
      kind: 'cares',
      servers: cluster.dnsResolutionConfig.resolvers.map((a, i) => serverOf(a, `${base}.dns_resolution_config.resolvers[${i}]`)),
    };
  }
  if (cluster.dnsResolvers.length > 0 || cluster.useTcpForDnsLookups) {
    return { kind: 'cares', servers: cluster.dnsResolvers.map((a, i) => serverOf(a, `${base}.dns_resolvers[${i}]`)) };
  }
  return undefined;
}
