import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ClusterProtocolSelection,
  DiscoveryType,
  DnsLookupFamilyValue,
  HealthStatus,
  LbPolicy,
  LeastRequestSelectionMethod,
  RoutingPriority,
} from '../../src/upstream/proto_enums.js';
import { testRegistry } from './helpers.js';

const cases: Array<[string, Record<string, number>]> = [
  ['envoy.config.cluster.v3.Cluster.DiscoveryType', DiscoveryType],
  ['envoy.config.cluster.v3.Cluster.LbPolicy', LbPolicy],
  ['envoy.config.cluster.v3.Cluster.DnsLookupFamily', DnsLookupFamilyValue],
  ['envoy.config.cluster.v3.Cluster.ClusterProtocolSelection', ClusterProtocolSelection],
  ['envoy.config.core.v3.HealthStatus', HealthStatus],
  ['envoy.config.core.v3.RoutingPriority', RoutingPriority],
  ['envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest.SelectionMethod', LeastRequestSelectionMethod],
];

for (const [typeName, map] of cases) {
  test(`local enum map matches the descriptor: ${typeName}`, () => {
    const e = testRegistry().getEnum(typeName);
    assert.ok(e, `${typeName} not in registry`);
    for (const [name, num] of Object.entries(map)) {
      const v: { number: number } | undefined = e.values.find((x: { name: string }) => x.name === name);
      assert.ok(v, `${typeName}.${name} missing`);
      assert.equal(v.number, num, `${typeName}.${name}`);
    }
  });
}
