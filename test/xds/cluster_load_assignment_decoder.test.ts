/**
 * The hand-written ClusterLoadAssignment decoder must give exactly what
 * protobuf-es's fromBinary gives, for every input: plain assignments (the fast
 * path), every field of the messages it reads by hand, messages it hands to
 * protobuf-es (unknown fields, repeated singular messages that merge, fields
 * off the plain path), and malformed bytes (it throws; decodeResource then
 * reports the generic error).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { create, equals, fromBinary, toBinary, type DescMessage } from '@bufbuild/protobuf';
import { anyPack } from '@bufbuild/protobuf/wkt';
import { messageSchema } from '../../src/config/type_registry.js';
import { ConfigError } from '../../src/config/config_error.js';
import { TypeUrl } from '../../src/envoy/config/subscription.js';
import { claDecoderCounters, decodeClusterLoadAssignment } from '../../src/xds/cluster_load_assignment_decoder.js';
import { decodeResource } from '../../src/xds/xds_resource.js';

const CLA = (): DescMessage => messageSchema('envoy.config.endpoint.v3.ClusterLoadAssignment');

/** Decodes `bytes` both ways and checks they agree; returns how many messages went to protobuf-es. */
function assertSameAsGeneric(bytes: Uint8Array): number {
  const before = claDecoderCounters.genericMessages;
  let generic;
  try {
    generic = fromBinary(CLA(), bytes);
  } catch (e) {
    assert.throws(() => decodeClusterLoadAssignment(bytes), `fromBinary throws (${(e as Error).message}), so must the fast path`);
    return claDecoderCounters.genericMessages - before;
  }
  const fast = decodeClusterLoadAssignment(bytes);
  assert.ok(fast !== null);
  assert.ok(equals(CLA(), fast as never, generic), `equals() differs:\n${JSON.stringify(fast, big)}\n${JSON.stringify(generic, big)}`);
  assert.ok(isDeepStrictEqual(fast, generic), `objects differ:\n${JSON.stringify(fast, big)}\n${JSON.stringify(generic, big)}`);
  return claDecoderCounters.genericMessages - before;
}

const big = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? String(v) : v instanceof Uint8Array ? [...v] : v);

function socketEndpoint(address: string, port: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    hostIdentifier: { case: 'endpoint', value: { address: { address: { case: 'socketAddress', value: { address, portSpecifier: { case: 'portValue', value: port } } } } } },
    ...extra,
  };
}

function encode(init: Record<string, unknown>): Uint8Array {
  return toBinary(CLA(), create(CLA(), init as never));
}

test('a plain assignment of many endpoints decodes by hand, equal to fromBinary', () => {
  const lbEndpoints = Array.from({ length: 500 }, (_, i) => socketEndpoint(`10.0.${i >> 8}.${i & 255}`, 8000 + i));
  const generic = assertSameAsGeneric(encode({ clusterName: 'big', endpoints: [{ lbEndpoints }] }));
  assert.equal(generic, 0, 'the plain path must not fall back to protobuf-es');
});

test('every field of the hand-read messages, and the ones handed on, decode equal to fromBinary', () => {
  const bytes = encode({
    clusterName: 'rich',
    policy: { overprovisioningFactor: 200, endpointStaleAfter: { seconds: 5n, nanos: 0 } },
    endpoints: [
      {
        locality: { region: 'eu', zone: 'eu-1', subZone: 'a' },
        loadBalancingWeight: 7,
        priority: 2,
        proximity: 3,
        metadata: { filterMetadata: { 'envoy.lb': { canary: true } } },
        lbEndpoints: [
          socketEndpoint('10.0.0.1', 80, {
            healthStatus: 3,
            loadBalancingWeight: 5,
            metadata: { filterMetadata: { 'envoy.lb': { version: 'v2', replicas: 3 } } },
          }),
          {
            hostIdentifier: {
              case: 'endpoint',
              value: {
                hostname: 'backend.local',
                healthCheckConfig: { portValue: 9000, hostname: 'hc' },
                address: { address: { case: 'socketAddress', value: { protocol: 1, address: 'svc', portSpecifier: { case: 'namedPort', value: 'http' }, resolverName: 'r', ipv4Compat: true } } },
              },
            },
          },
          socketEndpoint('::1', 443, { loadBalancingWeight: 0 }),
        ],
      },
    ],
  });
  const generic = assertSameAsGeneric(bytes);
  assert.ok(generic >= 4, `policy, locality, metadata and health_check_config go to protobuf-es (${generic})`);
});

test('messages off the plain path are handed whole to protobuf-es', () => {
  // endpoint_name, additional_addresses, a pipe address, named_endpoints, load_balancer_endpoints.
  assert.ok(assertSameAsGeneric(encode({ clusterName: 'x', endpoints: [{ lbEndpoints: [{ hostIdentifier: { case: 'endpointName', value: 'named' } }] }] })) > 0);
  assert.ok(assertSameAsGeneric(encode({
    clusterName: 'x',
    endpoints: [{ lbEndpoints: [{ hostIdentifier: { case: 'endpoint', value: { additionalAddresses: [{ address: { address: { case: 'socketAddress', value: { address: '10.0.0.2', portSpecifier: { case: 'portValue', value: 1 } } } } }] } } }] }],
  })) > 0);
  assert.ok(assertSameAsGeneric(encode({ clusterName: 'x', endpoints: [{ lbEndpoints: [{ hostIdentifier: { case: 'endpoint', value: { address: { address: { case: 'pipe', value: { path: '/tmp/s' } } } } } }] }] })) > 0);
  assert.ok(assertSameAsGeneric(encode({ clusterName: 'x', namedEndpoints: { a: { address: { address: { case: 'socketAddress', value: { address: '10.0.0.3', portSpecifier: { case: 'portValue', value: 2 } } } } } } })) > 0);
  assert.ok(assertSameAsGeneric(encode({ clusterName: 'x', endpoints: [{ lbConfig: { case: 'loadBalancerEndpoints', value: { lbEndpoints: [socketEndpoint('10.0.0.4', 3)] } } }] })) > 0);
});

// ---- wire-level cases protobuf-es's encoder never produces ----

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) { out.push((n & 0x7f) | 0x80); n >>>= 7; }
  out.push(n);
  return out;
}
const ld = (field: number, body: number[]): number[] => [...varint((field << 3) | 2), ...varint(body.length), ...body];
const vi = (field: number, value: number): number[] => [...varint(field << 3), ...varint(value)];
const str = (field: number, s: string): number[] => ld(field, [...Buffer.from(s)]);
const socketAddress = (ip: string, port: number): number[] => [...str(2, ip), ...vi(3, port)];
const lbEndpoint = (...endpointFields: number[][]): number[] => ld(1, endpointFields.flat());

test('unknown fields, repeated singular messages (merged) and out-of-order fields decode as fromBinary does', () => {
  // An unknown field (99) inside a SocketAddress.
  const unknownInSocket = ld(2, ld(2, lbEndpoint(ld(1, ld(1, [...socketAddress('10.0.0.1', 80), ...vi(99, 1)])))));
  assert.ok(assertSameAsGeneric(Uint8Array.from([...str(1, 'c'), ...unknownInSocket])) > 0);
  // Endpoint.address sent twice: protobuf merges the two (port from the first, ip from the second).
  const twice = ld(2, ld(2, lbEndpoint(ld(1, ld(1, vi(3, 81))), ld(1, ld(1, str(2, '10.0.0.9'))))));
  assertSameAsGeneric(Uint8Array.from([...str(1, 'c'), ...twice]));
  // The port oneof set twice (last wins), cluster_name twice (last wins), fields in reverse order.
  const oneofTwice = ld(2, ld(2, lbEndpoint(ld(1, ld(1, [...vi(3, 1), ...str(4, 'named'), ...vi(3, 2), ...str(2, '10.0.0.1')])))));
  assertSameAsGeneric(Uint8Array.from([...oneofTwice, ...str(1, 'first'), ...str(1, 'second')]));
  // A wrong wire type for a known field is handed on (protobuf-es decides what it means: here, an error).
  const wrongWire = ld(2, ld(2, lbEndpoint(ld(1, ld(1, [...str(2, '10.0.0.1'), ...vi(3, 1)])), vi(2, 1))));
  assertSameAsGeneric(Uint8Array.from([...str(1, 'c'), ...wrongWire]));
  // health_status (an enum) sent as a varint in LbEndpoint, beside an endpoint: read by hand.
  assert.equal(assertSameAsGeneric(Uint8Array.from([...str(1, 'c'), ...ld(2, ld(2, [...ld(1, ld(1, ld(1, socketAddress('10.0.0.1', 80)))), ...vi(2, 2)]))])), 0);
});

test('malformed bytes throw, and decodeResource reports them like any undecodable resource', () => {
  const good = encode({ clusterName: 'c', endpoints: [{ lbEndpoints: [socketEndpoint('10.0.0.1', 80)] }] });
  const truncated = good.subarray(0, good.length - 3);
  assert.throws(() => decodeClusterLoadAssignment(truncated));
  assert.throws(() => fromBinary(CLA(), truncated));
  const any = anyPack(CLA(), create(CLA(), { clusterName: 'c' } as never));
  any.value = truncated;
  assert.throws(() => decodeResource(any, TypeUrl.ClusterLoadAssignment, 'resources[0]'), (e: unknown) => e instanceof ConfigError && /resources\[0\]/.test((e as Error).message));
});

test('randomly built assignments decode equal to fromBinary (200 cases)', () => {
  let seed = 12345;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  for (let c = 0; c < 200; c++) {
    const endpoints = Array.from({ length: 1 + rnd(3) }, () => ({
      priority: rnd(3),
      ...(rnd(3) === 0 ? { locality: { zone: `z${rnd(5)}` } } : {}),
      ...(rnd(4) === 0 ? { loadBalancingWeight: 1 + rnd(100) } : {}),
      lbEndpoints: Array.from({ length: rnd(6) }, () => socketEndpoint(`10.1.${rnd(256)}.${rnd(256)}`, rnd(65536), {
        ...(rnd(3) === 0 ? { healthStatus: rnd(6) } : {}),
        ...(rnd(3) === 0 ? { loadBalancingWeight: rnd(128) } : {}),
      })),
    }));
    assertSameAsGeneric(encode({ clusterName: `c${c}`, endpoints }));
  }
});
