/**
 * Test fixtures for the logging tests: a hand-built StreamInfo, header maps,
 * a recording stats scope, a FactoryContext fake, temp dirs, and a tiny proto
 * helper that builds config messages from Envoy YAML through the descriptor
 * set in generated/envoy_api.binpb.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFileRegistry, fromBinary, fromJson, type FileRegistry, type JsonValue, type Message } from '@bufbuild/protobuf';
import { anyUnpack, FileDescriptorSetSchema, type Any } from '@bufbuild/protobuf/wkt';
import { parse as parseYaml } from 'yaml';
import type { Protocol } from '../../src/envoy/http/protocol.js';
import type { HeaderMap } from '../../src/envoy/http/header_map.js';
import type { FactoryContext } from '../../src/envoy/server/factory_context.js';
import type { Counter, Gauge, Histogram, HistogramUnit, Scope } from '../../src/envoy/stats/stats.js';
import type { StreamInfo } from '../../src/envoy/stream_info/stream_info.js';
import type { ClusterInfo, HostDescription } from '../../src/envoy/upstream/host.js';
import { HeaderMapImpl } from '../../src/http/codec/header_map_impl.js';
import type { FormatterContext } from '../../src/logging/substitution_formatter.js';

// ---------------------------------------------------------------------------
// StreamInfo

/** A StreamInfo with every field settable; times are monotonic ms like the real one. */
export class TestStreamInfo implements StreamInfo {
  startTime = Date.UTC(2016, 3, 15, 20, 17, 0, 310);
  startTimeMonotonic = 1000;
  protocol: Protocol | null = null;
  responseCode: number | null = null;
  responseCodeDetails: string | null = null;
  responseFlags = 0;
  bytesReceived = 0;
  bytesSent = 0;
  lastDownstreamRxByteReceived: number | null = null;
  firstUpstreamRxByteReceived: number | null = null;
  lastUpstreamRxByteReceived: number | null = null;
  firstDownstreamTxByteSent: number | null = null;
  lastDownstreamTxByteSent: number | null = null;
  upstreamHost: HostDescription | null = null;
  upstreamClusterName: string | null = null;
  upstreamLocalAddress: string | null = null;
  upstreamTransportFailureReason: string | null = null;
  downstreamRemoteAddress = '';
  downstreamDirectRemoteAddress = '';
  downstreamLocalAddress = '';
  requestedServerName = '';
  downstreamSslConnection: import('../../src/envoy/network/connection.js').SslConnectionInfo | null = null;
  routeName: string | null = null;
  virtualClusterName: string | null = null;
  requestId: string | null = null;
  attemptCount = 0;
  readonly filterState = new Map<string, unknown>();
  readonly dynamicMetadata = new Map<string, Record<string, unknown>>();
  /** Set to make duration() return end - start. */
  completeMonotonic: number | null = null;
  /** The optional health-check bit the not_health_check_filter reads. */
  healthCheck?: boolean;

  constructor(init: Partial<TestStreamInfo> = {}) {
    Object.assign(this, init);
  }

  setResponseFlag(flag: number): void { this.responseFlags |= flag; }
  hasResponseFlag(flag: number): boolean { return (this.responseFlags & flag) !== 0; }
  duration(): number | null {
    return this.completeMonotonic === null ? null : this.completeMonotonic - this.startTimeMonotonic;
  }
}

export function fakeCluster(init: Partial<ClusterInfo> = {}): ClusterInfo {
  return {
    name: 'backend',
    statName: 'backend',
    connectTimeoutMs: 5000,
    idleTimeoutMs: 0,
    perConnectionBufferLimitBytes: 1 << 20,
    maxRequestsPerConnection: 0,
    upstreamProtocol: 'http1',
    useDownstreamProtocol: false,
    alpnAutoConfig: false,
    maxStreamDurationMs: 0,
    maxConnectionDurationMs: 0,
    maxHeadersCount: 0,
    stats: {} as ClusterInfo['stats'],
    resourceManager: () => { throw new Error('not in tests'); },
    config: {},
    ...init,
  };
}

export function fakeHost(addressString: string, init: Partial<HostDescription> = {}): HostDescription {
  const colon = addressString.lastIndexOf(':');
  return {
    addressString,
    address: addressString.slice(0, colon).replace(/^\[|\]$/g, ''),
    port: Number(addressString.slice(colon + 1)),
    hostname: '',
    cluster: fakeCluster(),
    stats: {} as HostDescription['stats'],
    priority: 0,
    locality: { region: '', zone: '', subZone: '' },
    metadata: {},
    ...init,
  };
}

export function headers(pairs: Record<string, string> | ReadonlyArray<readonly [string, string]>): HeaderMap {
  return HeaderMapImpl.fromPairs(Array.isArray(pairs) ? pairs : Object.entries(pairs));
}

export function context(si: StreamInfo, init: Partial<FormatterContext> = {}): FormatterContext {
  return { requestHeaders: null, responseHeaders: null, responseTrailers: null, streamInfo: si, ...init };
}

// ---------------------------------------------------------------------------
// Stats

class TestCounter implements Counter {
  private v = 0;
  constructor(readonly name: string) {}
  inc(): void { this.v++; }
  add(n: number): void { this.v += n; }
  value(): number { return this.v; }
  latch(): number { return this.v; }
}

class TestGauge implements Gauge {
  private v = 0;
  constructor(readonly name: string) {}
  inc(): void { this.v++; }
  dec(): void { this.v--; }
  add(n: number): void { this.v += n; }
  sub(n: number): void { this.v -= n; }
  set(n: number): void { this.v = n; }
  value(): number { return this.v; }
}

/** A scope that records every stat by full name. */
export class TestScope implements Scope {
  readonly counters = new Map<string, TestCounter>();
  readonly gauges = new Map<string, TestGauge>();
  constructor(readonly prefix = '') {}
  counter(name: string): Counter {
    const full = this.prefix + name;
    let c = this.counters.get(full);
    if (c === undefined) this.counters.set(full, (c = new TestCounter(full)));
    return c;
  }
  gauge(name: string): Gauge {
    const full = this.prefix + name;
    let g = this.gauges.get(full);
    if (g === undefined) this.gauges.set(full, (g = new TestGauge(full)));
    return g;
  }
  histogram(name: string, unit: HistogramUnit): Histogram {
    return { name: this.prefix + name, unit, recordValue: () => {} };
  }
  createScope(name: string): Scope { return new TestScope(`${this.prefix}${name}.`); }
  counterValue(full: string): number { return this.counters.get(full)?.value() ?? 0; }
  gaugeValue(full: string): number { return this.gauges.get(full)?.value() ?? 0; }
}

// ---------------------------------------------------------------------------
// Protos

let registry: FileRegistry | undefined;

/** The registry of every Envoy message, read from generated/envoy_api.binpb. */
export function protoRegistry(): FileRegistry {
  if (registry !== undefined) return registry;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'generated', 'envoy_api.binpb'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('generated/envoy_api.binpb not found');
    dir = up;
  }
  const set = fromBinary(FileDescriptorSetSchema, readFileSync(join(dir, 'generated', 'envoy_api.binpb')));
  registry = createFileRegistry(set);
  return registry;
}

/** Builds a message of type `typeName` from Envoy YAML (or a JSON value). */
export function fromYaml<T extends Message>(typeName: string, yaml: string | JsonValue): T {
  const reg = protoRegistry();
  const schema = reg.getMessage(typeName);
  if (schema === undefined) throw new Error(`unknown message ${typeName}`);
  const json = (typeof yaml === 'string' ? parseYaml(yaml) : yaml) as JsonValue;
  return fromJson(schema, json, { registry: reg }) as unknown as T;
}

// ---------------------------------------------------------------------------
// FactoryContext

export function fakeFactoryContext(configDir: string, scope: Scope = new TestScope()): FactoryContext & { warnings: string[] } {
  const warnings: string[] = [];
  const ctx = {
    scope,
    listenerScope: scope,
    clusterManager: {},
    localInfo: { nodeId: 'test', clusterName: 'test', zone: '' },
    drainDecision: { drainClose: () => false, addOnDrainCloseCb: () => () => {} },
    configDir,
    listener: null,
    unpackAny(any: unknown): Message {
      const m = anyUnpack(any as Any, protoRegistry());
      if (m === undefined) throw new Error(`cannot unpack ${(any as Any).typeUrl}`);
      return m;
    },
    warn(path: string, message: string): void { warnings.push(`${path}: ${message}`); },
    warnings,
  };
  return ctx as unknown as FactoryContext & { warnings: string[] };
}

// ---------------------------------------------------------------------------
// Files

export function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'legate-log-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
