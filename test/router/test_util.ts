/**
 * Test helpers for route-table tests: Envoy YAML -> protobuf-es messages via
 * the descriptor registry (generated/envoy_api.binpb), a fake StreamInfo, a
 * small fake substitution formatter, and header maps.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DescMessage, type FileRegistry, createFileRegistry, fromBinary, fromJson } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import YAML from 'yaml';
import type { HeaderMap } from '../../src/envoy/http/header_map.js';
import type { StreamInfo } from '../../src/envoy/stream_info/stream_info.js';
import type { RouteConfiguration } from '../../src/generated/envoy/config/route/v3/route_pb.js';
import { HeaderMapImpl } from '../../src/http/codec/header_map_impl.js';
import type { HeaderFormatterContext, HeaderValueFormatter } from '../../src/router/header_parser.js';
import { type RouteTableImpl, type RouteTableOptions, compileRouteTable } from '../../src/router/config_impl.js';

let registry: FileRegistry | null = null;

function findDescriptorSet(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const p = join(dir, 'generated', 'envoy_api.binpb');
    if (existsSync(p)) return p;
    const up = dirname(dir);
    if (up === dir) throw new Error('generated/envoy_api.binpb not found');
    dir = up;
  }
}

export function envoyRegistry(): FileRegistry {
  if (registry === null) {
    registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(findDescriptorSet())));
  }
  return registry;
}

/** Parses Envoy YAML (or JSON) into a message of `typeName`. */
export function parseYaml<T>(typeName: string, yaml: string): T {
  const reg = envoyRegistry();
  const schema = reg.getMessage(typeName) as DescMessage | undefined;
  if (schema === undefined) throw new Error(`unknown message ${typeName}`);
  return fromJson(schema, YAML.parse(yaml), { registry: reg }) as T;
}

export function routeConfig(yaml: string): RouteConfiguration {
  return parseYaml<RouteConfiguration>('envoy.config.route.v3.RouteConfiguration', yaml);
}

/** A fake of the substitution formatter: `%%`, `%DOWNSTREAM_REMOTE_ADDRESS%`, `%REQ(x)%`, `%RESP(x)%`. */
export function fakeFormatterFactory(format: string): HeaderValueFormatter {
  type Part = string | ((ctx: HeaderFormatterContext) => string);
  const parts: Part[] = [];
  let i = 0;
  let lit = '';
  while (i < format.length) {
    const c = format[i]!;
    if (c !== '%') { lit += c; i++; continue; }
    if (format[i + 1] === '%') { lit += '%'; i += 2; continue; }
    const end = format.indexOf('%', i + 1);
    if (end === -1) throw new Error(`unterminated command in '${format}'`);
    const cmd = format.slice(i + 1, end);
    if (lit) { parts.push(lit); lit = ''; }
    let m: RegExpMatchArray | null;
    if (cmd === 'DOWNSTREAM_REMOTE_ADDRESS') {
      parts.push((ctx) => ctx.streamInfo.downstreamRemoteAddress);
    } else if ((m = /^(REQ|RESP)\(([^)]+)\)$/.exec(cmd)) !== null) {
      const name = m[2]!.toLowerCase();
      const which = m[1]!;
      parts.push((ctx) => (which === 'REQ' ? ctx.requestHeaders : ctx.responseHeaders)?.get(name) ?? '');
    } else {
      throw new Error(`unknown command %${cmd}%`);
    }
    i = end + 1;
  }
  if (lit) parts.push(lit);
  return { format: (ctx) => parts.map((p) => (typeof p === 'string' ? p : p(ctx))).join('') };
}

export function streamInfo(overrides: Partial<StreamInfo> = {}): StreamInfo {
  const flags = { v: 0 };
  const si: StreamInfo = {
    startTime: 0,
    startTimeMonotonic: 0,
    protocol: null,
    responseCode: null,
    responseCodeDetails: null,
    responseFlags: 0,
    bytesReceived: 0,
    bytesSent: 0,
    lastDownstreamRxByteReceived: null,
    firstUpstreamRxByteReceived: null,
    lastUpstreamRxByteReceived: null,
    firstDownstreamTxByteSent: null,
    lastDownstreamTxByteSent: null,
    upstreamHost: null,
    upstreamClusterName: null,
    upstreamLocalAddress: null,
    upstreamTransportFailureReason: null,
    downstreamRemoteAddress: '10.0.0.1:5555',
    downstreamDirectRemoteAddress: '10.0.0.1:5555',
    downstreamLocalAddress: '127.0.0.1:10000',
    requestedServerName: '',
    downstreamSslConnection: null,
    routeName: null,
    virtualClusterName: null,
    requestId: null,
    attemptCount: 0,
    filterState: new Map(),
    dynamicMetadata: new Map(),
    setResponseFlag(f: number) { flags.v |= f; },
    hasResponseFlag(f: number) { return (flags.v & f) !== 0; },
    duration() { return null; },
    ...overrides,
  };
  return si;
}

/** Request headers: `:authority`, `:path`, `:method` (GET), `:scheme` (http), then extras in order. */
export function req(authority: string, path: string, extra: Array<[string, string]> = []): HeaderMapImpl {
  const pairs: Array<[string, string]> = [[':method', 'GET'], [':scheme', 'http'], [':authority', authority], [':path', path]];
  for (const [n, v] of extra) {
    const i = pairs.findIndex(([k]) => k === n && n.startsWith(':'));
    if (i !== -1) pairs[i] = [n, v];
    else pairs.push([n, v]);
  }
  return HeaderMapImpl.fromPairs(pairs);
}

export function headers(pairs: Array<[string, string]>): HeaderMapImpl {
  return HeaderMapImpl.fromPairs(pairs);
}

/** Header map as [name, value] pairs in order. */
export function pairsOf(h: HeaderMap): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  h.forEach((n, v) => out.push([n, v]));
  return out;
}

export const baseOptions: RouteTableOptions = {
  formatterFactory: fakeFormatterFactory,
  configDir: process.cwd(),
};

/** Compiles YAML with the fake formatter (cluster validation off unless given). */
export function table(yaml: string, options: Partial<RouteTableOptions> = {}): RouteTableImpl {
  return compileRouteTable(routeConfig(yaml), { ...baseOptions, ...options });
}

/** The cluster (or action kind) the request routes to, for compact assertions. */
export function target(t: RouteTableImpl, h: HeaderMap, random = 0, si: StreamInfo = streamInfo()): string | null {
  const r = t.route(h, si, random);
  if (r === null) return null;
  if (r.routeEntry !== null) return r.routeEntry.clusterName(h, random);
  if (r.redirect !== null) return `redirect:${r.redirect.newLocation(h)}`;
  if (r.directResponse !== null) return `direct:${r.directResponse.status}`;
  return 'none';
}
