// /config_dump's Envoy shape for dynamic resources, ?resource= and ?mask=.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create, type Message } from '@bufbuild/protobuf';
import { messageSchema } from '../../src/config/type_registry.js';
import { applyFieldMask, handleConfigDump, type ConfigDumpSource } from '../../src/server/config_dump.js';

const msg = (type: string, init: Record<string, unknown>): Message => create(messageSchema(type), init as never) as Message;
const cluster = (name: string) => msg('envoy.config.cluster.v3.Cluster', { name });
const when = new Date('2026-11-22T08:00:00.000Z');

function source(): ConfigDumpSource {
  return {
    bootstrap: msg('envoy.config.bootstrap.v3.Bootstrap', {}),
    loadedAt: when,
    staticClusters: [cluster('xds')],
    staticListeners: [],
    staticRouteConfigs: [],
    clustersVersionInfo: 'v7',
    dynamicActiveClusters: [{ versionInfo: 'v7', resource: cluster('web'), lastUpdated: when }],
    dynamicWarmingClusters: [{ versionInfo: 'v7', resource: cluster('eds-web'), lastUpdated: when }],
    listenersVersionInfo: 'l3',
    dynamicListeners: [{
      name: 'http',
      active: { versionInfo: 'l2', resource: msg('envoy.config.listener.v3.Listener', { name: 'http' }), lastUpdated: when },
      warming: { versionInfo: 'l3', resource: msg('envoy.config.listener.v3.Listener', { name: 'http' }), lastUpdated: when },
    }],
    dynamicRouteConfigs: [{ versionInfo: 'r1', resource: msg('envoy.config.route.v3.RouteConfiguration', { name: 'local' }), lastUpdated: when }],
    dynamicEndpointConfigs: [{ versionInfo: 'e1', resource: msg('envoy.config.endpoint.v3.ClusterLoadAssignment', { clusterName: 'eds-web' }), lastUpdated: when }],
  };
}

function dump(query: string): { status: number; json: any } {
  const r = handleConfigDump(source, { query: new URLSearchParams(query) } as never);
  return { status: r.status, json: r.status === 200 ? JSON.parse(String(r.body)) : null };
}

test('dynamic clusters, listeners (active and warming) and routes appear with version_info and last_updated', () => {
  const { json } = dump('');
  const [, clusters, listeners, routes] = json.configs;
  assert.equal(clusters['@type'], 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump');
  assert.equal(clusters.version_info, 'v7');
  assert.deepEqual(clusters.dynamic_active_clusters[0], {
    version_info: 'v7',
    cluster: { '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: 'web' },
    last_updated: '2026-11-22T08:00:00.000Z',
  });
  assert.equal(clusters.dynamic_warming_clusters[0].cluster.name, 'eds-web');
  assert.equal(listeners.dynamic_listeners[0].name, 'http');
  assert.equal(listeners.dynamic_listeners[0].active_state.version_info, 'l2');
  assert.equal(listeners.dynamic_listeners[0].warming_state.version_info, 'l3');
  assert.equal(routes.dynamic_route_configs[0].route_config.name, 'local');
  assert.equal(json.configs.length, 4, 'endpoints only with ?include_eds');
  assert.equal(dump('include_eds').json.configs[4].dynamic_endpoint_configs[0].endpoint_config.cluster_name, 'eds-web');
});

test('?resource= picks a field across dumps, ?mask= trims each resource, unknown resource is 404', () => {
  const r = dump('resource=dynamic_active_clusters&mask=cluster.name');
  assert.deepEqual(r.json, { configs: [{ cluster: { name: 'web', '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster' } }] });
  assert.equal(dump('resource=no_such_thing').status, 404);
  const masked = dump('mask=version_info').json.configs;
  assert.equal(masked[1].version_info, 'v7');
  assert.equal(masked[1].static_clusters, undefined);
  assert.deepEqual(applyFieldMask({ a: [{ b: 1, c: 2 }], d: 3 }, [['a', 'b']]), { a: [{ b: 1 }] });
});
