/**
 * The services file source: parsing with file:line:column errors, the
 * translation into Listener / RouteConfiguration / Cluster /
 * ClusterLoadAssignment, and a canary roll-out (0% → 50% → 100%) followed
 * by a real @grpc/grpc-js-xds client without a failed call, then a fault
 * injected by the file.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Message } from '@bufbuild/protobuf';
import type { Cluster } from '../../src/generated/envoy/config/cluster/v3/cluster_pb.js';
import type { ClusterLoadAssignment } from '../../src/generated/envoy/config/endpoint/v3/endpoint_pb.js';
import type { Listener } from '../../src/generated/envoy/config/listener/v3/listener_pb.js';
import type { RouteConfiguration } from '../../src/generated/envoy/config/route/v3/route_pb.js';
import type { HttpConnectionManager } from '../../src/generated/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js';
import type { HTTPFault } from '../../src/generated/envoy/extensions/filters/http/fault/v3/fault_pb.js';
import { ConfigError } from '../../src/config/config_error.js';
import { unpackAny } from '../../src/config/type_registry.js';
import { resourceName } from '../../src/control_plane/resource_types.js';
import { parseServicesFile } from '../../src/control_plane/services_file.js';
import { translateServices } from '../../src/control_plane/services_translator.js';
import { Snapshot } from '../../src/control_plane/snapshot.js';
import { ControlPlane } from '../../src/control_plane/control_plane.js';
import { TypeUrl } from '../../src/control_plane/resource_types.js';
import { consistencyErrors } from '../../src/control_plane/snapshot_consistency.js';
import { startGrpcServer, type GrpcTestServer } from '../support/grpc_util.js';
import { edsClusterYaml, claYaml, startControlPlane, startGrpcJsXdsClient, tempResourceDir, writeResource } from './xds_fixtures.js';

const EXAMPLE = `listener:
  name: ingress
  port: 10000
  grpc_targets: [reviews-grpc]
services:
  reviews:
    protocol: grpc
    connect_timeout: 250ms
    lb_policy: least_request
    versions:
      v1: { endpoints: [127.0.0.1:9001, { address: 127.0.0.1, port: 9002, weight: 3, zone: z2 }] }
      v2: { endpoints: ["[::1]:9003"] }
  ratings:
    endpoints: [127.0.0.1:9100]
routes:
- name: canary
  match:
    prefix: /reviews
    headers: { x-canary: "yes", x-user: { prefix: a }, x-debug: { present: true } }
  split:
  - { to: reviews/v1, weight: 90 }
  - { to: reviews/v2, weight: 10 }
  timeout: 2s
  retries: { attempts: 3, per_try_timeout: 500ms }
  fault:
    delay: { duration: 100ms, percent: 12.5 }
    abort: { grpc_status: 14, percent: 1 }
- hosts: [ratings.local]
  match: { regex: "/r/[0-9]+" }
  to: ratings
  rewrite_prefix: /
`;

function byName<T extends Message>(resources: ReturnType<typeof translateServices>, typeName: string, name: string): T {
  const r = resources.find((x) => x.message.$typeName === typeName && resourceName(x.message) === name);
  assert.ok(r !== undefined, `${typeName} ${name} generated`);
  return r.message as T;
}

function errorOf(text: string): string {
  try {
    translateServices(parseServicesFile(text, 's.yaml'));
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.message;
  }
  assert.fail('expected a ConfigError');
}

describe('services file', () => {
  it('translates services, versions and routes into Envoy resources', () => {
    const resources = translateServices(parseServicesFile(EXAMPLE, 's.yaml'));
    assert.deepEqual(resources.map((r) => `${r.message.$typeName.split('.').pop()}/${resourceName(r.message)}`), [
      'Cluster/reviews|v1', 'ClusterLoadAssignment/reviews|v1',
      'Cluster/reviews|v2', 'ClusterLoadAssignment/reviews|v2',
      'Cluster/ratings', 'ClusterLoadAssignment/ratings',
      'RouteConfiguration/ingress-routes', 'Listener/ingress', 'Listener/reviews-grpc',
    ]);
    const snapshot = Snapshot.build(resources, '1');
    assert.deepEqual(consistencyErrors(snapshot), []);

    const c = byName<Cluster>(resources, 'envoy.config.cluster.v3.Cluster', 'reviews|v1');
    assert.equal(c.connectTimeout?.nanos, 250_000_000);
    assert.equal(c.lbPolicy, 1 /* LEAST_REQUEST */);
    assert.deepEqual(Object.keys(c.typedExtensionProtocolOptions), ['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']);
    assert.deepEqual(Object.keys(byName<Cluster>(resources, 'envoy.config.cluster.v3.Cluster', 'ratings').typedExtensionProtocolOptions), [], 'http1 by default');

    const cla = byName<ClusterLoadAssignment>(resources, 'envoy.config.endpoint.v3.ClusterLoadAssignment', 'reviews|v1');
    assert.deepEqual(cla.endpoints.map((l) => [l.locality?.zone ?? '', l.loadBalancingWeight, l.lbEndpoints.length]), [['', 1, 1], ['z2', 1, 1]]);
    assert.equal(cla.endpoints[1]!.lbEndpoints[0]!.loadBalancingWeight, 3);
    const v2 = byName<ClusterLoadAssignment>(resources, 'envoy.config.endpoint.v3.ClusterLoadAssignment', 'reviews|v2');
    const ep = v2.endpoints[0]!.lbEndpoints[0]!.hostIdentifier;
    assert.equal(ep.case === 'endpoint' && ep.value.address?.address.case === 'socketAddress' ? ep.value.address.address.value.address : '', '::1');

    const rc = byName<RouteConfiguration>(resources, 'envoy.config.route.v3.RouteConfiguration', 'ingress-routes');
    assert.deepEqual(rc.virtualHosts.map((v) => v.domains), [['*'], ['ratings.local']]);
    const canary = rc.virtualHosts[0]!.routes[0]!;
    assert.equal(canary.name, 'canary');
    assert.deepEqual(canary.match?.pathSpecifier, { case: 'prefix', value: '/reviews' });
    assert.deepEqual(canary.match?.headers.map((h) => [h.name, h.headerMatchSpecifier.case]), [['x-canary', 'stringMatch'], ['x-user', 'stringMatch'], ['x-debug', 'presentMatch']]);
    assert.equal(canary.action.case, 'route');
    const ra = canary.action.case === 'route' ? canary.action.value : assert.fail();
    assert.equal(ra.clusterSpecifier.case, 'weightedClusters');
    assert.deepEqual(ra.clusterSpecifier.case === 'weightedClusters' ? ra.clusterSpecifier.value.clusters.map((w) => [w.name, w.weight]) : [], [['reviews|v1', 90], ['reviews|v2', 10]]);
    assert.equal(ra.timeout?.seconds, 2n);
    assert.equal(ra.maxStreamDuration?.maxStreamDuration?.seconds, 2n, 'gRPC clients read max_stream_duration');
    assert.equal(ra.retryPolicy?.retryOn, 'unavailable,cancelled,deadline-exceeded');
    assert.equal(ra.retryPolicy?.numRetries, 3);
    assert.equal(ra.retryPolicy?.perTryTimeout?.nanos, 500_000_000);
    const fault = unpackAny(canary.typedPerFilterConfig['envoy.filters.http.fault']!, '') as HTTPFault;
    assert.equal(fault.delay?.faultDelaySecifier.case, 'fixedDelay');
    assert.deepEqual([fault.delay?.percentage?.numerator, fault.delay?.percentage?.denominator], [125000, 2 /* MILLION */]);
    assert.deepEqual(fault.abort?.errorType, { case: 'grpcStatus', value: 14 });
    const ratings = rc.virtualHosts[1]!.routes[0]!;
    assert.equal(ratings.match?.pathSpecifier.case, 'safeRegex');
    assert.equal(ratings.action.case === 'route' ? ratings.action.value.prefixRewrite : '', '/');

    const listener = byName<Listener>(resources, 'envoy.config.listener.v3.Listener', 'ingress');
    const addr = listener.address?.address;
    assert.equal(addr?.case === 'socketAddress' ? addr.value.portSpecifier.value : 0, 10000);
    const tc = listener.filterChains[0]!.filters[0]!.configType;
    const h = unpackAny(tc.case === 'typedConfig' ? tc.value : assert.fail(), '') as HttpConnectionManager;
    assert.equal(h.routeSpecifier.case === 'rds' ? h.routeSpecifier.value.routeConfigName : '', 'ingress-routes');
    assert.deepEqual(h.httpFilters.map((f) => f.name), ['envoy.filters.http.fault', 'envoy.filters.http.router']);
    const api = byName<Listener>(resources, 'envoy.config.listener.v3.Listener', 'reviews-grpc');
    assert.ok(api.apiListener?.apiListener !== undefined);
  });

  it('reports bad input with file:line:column', () => {
    const base = (routes: string, services = '  a: { endpoints: [127.0.0.1:1] }\n  b: { versions: { v1: { endpoints: [] } } }\n'): string =>
      `listener: { port: 1 }\nservices:\n${services}routes:\n${routes}`;
    assert.equal(errorOf(base('- to: c\n')), 's.yaml:6:7: routes[0].to: unknown service "c" (services: a, b)');
    assert.equal(errorOf(base('- to: b\n')), 's.yaml:6:7: routes[0].to: service "b" has versions; name one (b/v1)');
    assert.equal(errorOf(base('- to: b/v9\n')), 's.yaml:6:7: routes[0].to: service "b" has no version "v9" (versions: v1)');
    assert.equal(errorOf(base('- to: a/v1\n')), 's.yaml:6:7: routes[0].to: service "a" has no versions');
    assert.equal(errorOf(base('- split: [{ to: a, weight: 0 }, { to: b/v1, weight: 0 }]\n')), 's.yaml:6:10: routes[0].split: at least one weight must be above 0');
    assert.equal(errorOf(base('- split: [{ to: a, weight: 1 }, { to: a, weight: 2 }]\n')), 's.yaml:6:33: routes[0].split[1]: a appears twice in the split');
    assert.equal(errorOf(base('- to: a\n  split: [{ to: a, weight: 1 }]\n')), 's.yaml:7:3: routes[0].split: give either to or split, not both');
    assert.equal(errorOf(base('- to: a\n  timeout: 2 seconds\n')), 's.yaml:7:12: routes[0].timeout: expected a duration such as 500ms, 2s, 1m, got string "2 seconds"');
    assert.equal(errorOf(base('- to: a\n  retrys: {}\n')), 's.yaml:7:3: routes[0].retrys: unknown key "retrys" (expected one of: name, hosts, match, to, split, timeout, retries, fault, rewrite_prefix)');
    assert.equal(errorOf(base('- to: a\n  fault: { abort: { percent: 5 } }\n')), 's.yaml:7:19: routes[0].fault.abort: give exactly one of http_status and grpc_status');
    assert.equal(errorOf(base('- {}\n')), 's.yaml:6:3: routes[0]: a route needs "to" (a service) or "split" (weighted services)');
    assert.equal(errorOf(base('- to: a\n', '  a: { endpoints: [127.0.0.1] }\n')), 's.yaml:3:20: services.a.endpoints[0]: expected "host:port" (IPv6 as "[::1]:port"), got "127.0.0.1"');
    assert.equal(errorOf(base('- to: a\n', '  a: { protocol: h3, endpoints: [] }\n')), 's.yaml:3:18: services.a.protocol: unknown protocol "h3" (expected http1, http2, grpc)');
    assert.equal(errorOf('services: {}\nroutes: []\n'), 's.yaml:1:1: listener: expected a mapping, got nothing');
    // A value only the proto rules catch: reported at the services file entry it came from.
    assert.match(errorOf(base('- to: a\n  match: { regex: "" }\n')), /^s\.yaml:7:\d+: routes\[0\]\.match\.regex: expected a non-empty string/);
    assert.match(errorOf('listener: { port: 1, address: "" }\nservices: {}\nroutes: []\n'), /^s\.yaml:1:31: listener\.address: expected a non-empty string/);
  });

  it('is served next to a resource directory; a name both define is refused', async () => {
    const dir = tempResourceDir();
    writeResource(dir, 'extra.yaml', `${edsClusterYaml('extra')}---\n${claYaml('extra', [7000])}`);
    const file = join(tempResourceDir(), 'services.yaml');
    writeFileSync(file, 'listener: { port: 0 }\nservices:\n  web: { endpoints: [127.0.0.1:8000] }\nroutes:\n- { match: { prefix: /extra }, to: web }\n');
    const cp = new ControlPlane({ dir, servicesFile: file, port: 0, directoryOptions: { watch: false, scanIntervalMs: 0 } });
    await cp.start();
    try {
      const snapshot = cp.cache.snapshotFor(undefined);
      assert.deepEqual([...snapshot!.resources(TypeUrl.Cluster).keys()].sort(), ['extra', 'web']);
      assert.deepEqual([...snapshot!.resources(TypeUrl.Listener).keys()], ['ingress']);
      // The directory now defines "web" too: refused as a duplicate, the previous snapshot stays.
      writeResource(dir, 'web.yaml', edsClusterYaml('web'));
      const err = cp.directory!.reload();
      assert.ok(err instanceof Error);
      assert.match(err.message, /duplicate CDS resource name "web"/);
      assert.equal(cp.cache.snapshotFor(undefined), snapshot);
    } finally {
      await cp.stop();
    }
  });

  describe('canary roll-out through @grpc/grpc-js-xds', () => {
    let v1: GrpcTestServer;
    let v2: GrpcTestServer;
    before(async () => {
      v1 = await startGrpcServer({ Unary: (_c: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from('v1')) } as never);
      v2 = await startGrpcServer({ Unary: (_c: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from('v2')) } as never);
    });
    after(async () => {
      await v1.close();
      await v2.close();
    });

    it('moves traffic 0% → 50% → 100% to v2 without a failed call, then injects a fault', async () => {
      const dir = tempResourceDir();
      const file = join(dir, 'services.yaml');
      const servicesYaml = (route: string): string => `listener:
  port: 0
  grpc_targets: [echo-svc]
services:
  echo:
    protocol: grpc
    versions:
      v1: { endpoints: [127.0.0.1:${v1.port}] }
      v2: { endpoints: [127.0.0.1:${v2.port}] }
routes:
- name: echo
${route}`;
      const split = (a: number, b: number): string => `  split: [{ to: echo/v1, weight: ${a} }, { to: echo/v2, weight: ${b} }]\n`;
      writeFileSync(file, servicesYaml(split(100, 0)));
      const cp = await startControlPlane(undefined, ['--services', file]);
      const client = startGrpcJsXdsClient(cp.xdsPort, 'echo-svc', 'canary-client');
      try {
        await client.waitFor(/^ok v1$/m, 15000);
        const start = client.output().indexOf('ok v1');
        await client.waitFor(/(^ok v1\n){5}/m, 5000, start);

        writeResource(dir, 'services.yaml', servicesYaml(split(50, 50)));
        let mark = client.output().length;
        await client.waitFor(/^ok v2$/m, 5000, mark);
        await client.waitFor(/^ok v1$/m, 5000, mark);

        writeResource(dir, 'services.yaml', servicesYaml(split(0, 100)));
        await cp.waitFor(/snapshot 3 from/, 5000);
        mark = client.output().length;
        await client.waitFor(/^ok v2$/m, 5000, mark);
        mark = client.output().indexOf('\n', client.output().length - 1) + 1;
        await client.waitFor(/(^ok .*\n){6}/m, 5000, mark);
        assert.deepEqual([...new Set(client.output().slice(mark).split('\n').filter((l) => l !== ''))], ['ok v2'], 'all on v2 at 100%');
        const all = client.output().slice(start).split('\n').filter((l) => l.startsWith('err '));
        assert.deepEqual(all, [], 'no call failed during the roll-out');

        // A fault from the file: every call aborted with UNAVAILABLE by the client's fault filter.
        // (The timeout comes along because grpc-js-xds 1.14 compares a new route with the old one
        // over the old one's keys only, so a typed_per_filter_config entry added alone goes unnoticed.)
        writeResource(dir, 'services.yaml', servicesYaml(`${split(0, 100)}  timeout: 5s\n  fault: { abort: { grpc_status: 14, percent: 100 } }\n`));
        mark = client.output().length;
        await client.waitFor(/^err 14 Fault injected\n(^err 14 Fault injected\n){2}/m, 5000, mark);
        // A bad change (unknown version) is refused with its line; the fault config stays.
        writeResource(dir, 'services.yaml', servicesYaml(split(0, 100).replace('echo/v2', 'echo/v3')));
        const refused = await cp.waitFor(/refusing the change of .*\n/, 5000);
        assert.match(refused[0], /services\.yaml:12:\d+: routes\[0\]\.split\[1\]\.to: service "echo" has no version "v3" \(versions: v1, v2\)/);
      } finally {
        await client.stop();
        await cp.stop();
      }
    });
  });
});
