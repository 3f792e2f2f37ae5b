/**
 * Test helpers for the upstream tests: v3 messages from Envoy YAML (the way
 * users write them), a seeded random source, a fake connection pool, hosts
 * for load balancer tests, and event waiting.
 */
import { readFileSync } from 'node:fs';
import { createFileRegistry, fromBinary, fromJson, type FileRegistry, type JsonValue } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import YAML from 'yaml';
import type {
  Cancellable,
  ConnectionPoolCallbacks,
  HttpConnectionPool,
} from '../../src/envoy/upstream/cluster_manager.js';
import type { Host, UpstreamProtocol } from '../../src/envoy/upstream/host.js';
import type { ResponseDecoder } from '../../src/envoy/http/codec.js';
import type { Cluster } from '../../src/generated/envoy/config/cluster/v3/cluster_pb.js';
import type { TypedExtensionConfig } from '../../src/generated/envoy/config/core/v3/extension_pb.js';
import type { RandomGenerator } from '../../src/upstream/load_balancer_impl.js';
import type { PrioritySetImpl } from '../../src/upstream/priority_set_impl.js';

let registry: FileRegistry | undefined;

/** The registry of every Envoy message, from generated/envoy_api.binpb. */
export function testRegistry(): FileRegistry {
  if (registry === undefined) {
    registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync('generated/envoy_api.binpb')));
  }
  return registry;
}

/** Parses YAML (or JSON) into the named v3 message with the proto3 JSON mapping. */
export function messageFromYaml<T>(typeName: string, yaml: string): T {
  const reg = testRegistry();
  const schema = reg.getMessage(typeName);
  if (schema === undefined) throw new Error(`unknown message ${typeName}`);
  return fromJson(schema, YAML.parse(yaml) as JsonValue, { registry: reg }) as unknown as T;
}

export function clusterFromYaml(yaml: string): Cluster {
  return messageFromYaml<Cluster>('envoy.config.cluster.v3.Cluster', yaml);
}

export function typedExtensionConfigFromYaml(yaml: string): TypedExtensionConfig {
  return messageFromYaml<TypedExtensionConfig>('envoy.config.core.v3.TypedExtensionConfig', yaml);
}

/** mulberry32: a small deterministic uint32 generator. */
export function seededRandom(seed: number): RandomGenerator {
  let a = seed >>> 0;
  return {
    random(): number {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return (t ^ (t >>> 14)) >>> 0;
    },
  };
}

/** A random source that replays fixed values (then repeats the last). */
export function fixedRandom(...values: number[]): RandomGenerator {
  let i = 0;
  return { random: () => values[Math.min(i++, values.length - 1)] };
}

/**
 * A connection pool double: streams are opened and finished by the test.
 * Records drain/destroy calls and fires idle callbacks like a real pool.
 */
export class FakePool implements HttpConnectionPool {
  activeStreams = 0;
  drained = false;
  destroyed = false;
  private readonly idleCbs: Array<() => void> = [];

  constructor(readonly host: Host, readonly protocol: UpstreamProtocol) {}

  newStream(_decoder: ResponseDecoder, _callbacks: ConnectionPoolCallbacks): Cancellable | null {
    this.activeStreams++;
    return null;
  }

  /** The test's way to open a stream. */
  startStream(): void {
    this.activeStreams++;
  }

  finishStream(): void {
    this.activeStreams--;
    if (this.activeStreams === 0) for (const cb of this.idleCbs) cb();
  }

  isIdle(): boolean {
    return this.activeStreams === 0;
  }

  drainConnections(): void {
    this.drained = true;
  }

  destroy(): void {
    this.destroyed = true;
  }

  addIdleCallback(cb: () => void): void {
    this.idleCbs.push(cb);
  }
}

/** A pool factory that remembers every pool it made. */
export function fakePoolFactory(): { factory: (host: Host, protocol: UpstreamProtocol) => FakePool; pools: FakePool[] } {
  const pools: FakePool[] = [];
  return {
    pools,
    factory: (host, protocol) => {
      const p = new FakePool(host, protocol);
      pools.push(p);
      return p;
    },
  };
}

/** Resolves on the next membership/health update of `ps`. */
export function nextUpdate(ps: PrioritySetImpl): Promise<{ priority: number; added: readonly Host[]; removed: readonly Host[] }> {
  return new Promise((resolve) => {
    const off = ps.addMemberUpdateCb((priority, added, removed) => {
      off();
      resolve({ priority, added, removed });
    });
  });
}

/**
 * Re-checks `pred` after every update of `ps` until it holds. No clock: the
 * test runner's own timeout is the only bound.
 */
export async function untilUpdated(ps: PrioritySetImpl, pred: () => boolean): Promise<void> {
  while (!pred()) await nextUpdate(ps);
}

/** Polls `pred` every few ms (for conditions with no event), bounded by `maxMs` (generous). */
export async function eventually(pred: () => boolean, maxMs = 10000): Promise<void> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > maxMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Addresses (sorted) of a host list. */
export function addrs(hosts: ReadonlyArray<Host>): string[] {
  return hosts.map((h) => h.addressString).sort();
}
