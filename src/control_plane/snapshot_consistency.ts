/**
 * The consistency check a snapshot passes before it is served, after
 * go-control-plane's `Snapshot.Consistent()`, extended to the references
 * Envoy would otherwise leave dangling (warming forever, or 503s):
 *
 *   - every `rds.route_config_name` of an HttpConnectionManager (in a filter
 *     chain, the default filter chain or an `api_listener`) names a
 *     RouteConfiguration of the snapshot;
 *   - every cluster a route sends to (`cluster`, `weighted_clusters`,
 *     `request_mirror_policies`, in RouteConfigurations and in inline
 *     `route_config`s) and every TcpProxy cluster is a Cluster of the snapshot;
 *   - every EDS cluster has its ClusterLoadAssignment (named by
 *     `eds_cluster_config.service_name`, or by the cluster name).
 *
 * References through a filesystem config source (`path`, `path_config_source`)
 * are not ours to serve and are not checked.
 */
import type { Message } from '@bufbuild/protobuf';
import type { Any } from '@bufbuild/protobuf/wkt';
import type { Cluster } from '../generated/envoy/config/cluster/v3/cluster_pb.js';
import type { ConfigSource } from '../generated/envoy/config/core/v3/config_source_pb.js';
import type { FilterChain } from '../generated/envoy/config/listener/v3/listener_components_pb.js';
import type { Listener } from '../generated/envoy/config/listener/v3/listener_pb.js';
import type { RouteAction_RequestMirrorPolicy, VirtualHost } from '../generated/envoy/config/route/v3/route_components_pb.js';
import type { RouteConfiguration } from '../generated/envoy/config/route/v3/route_pb.js';
import type { HttpConnectionManager } from '../generated/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js';
import type { TcpProxy } from '../generated/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy_pb.js';
import { ConfigError } from '../config/config_error.js';
import { fieldChild, indexChild } from '../config/field_path.js';
import { effectiveTypeName, unpackAny } from '../config/type_registry.js';
import type { Snapshot, SnapshotResource } from './snapshot.js';
import { TypeUrl } from './resource_types.js';

const HCM = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const TCP_PROXY = 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
/** envoy.config.cluster.v3.Cluster.DiscoveryType.EDS */
const DISCOVERY_TYPE_EDS = 3;

class Checker {
  readonly errors: ConfigError[] = [];

  constructor(private readonly snapshot: Snapshot) {}

  private fail(res: SnapshotResource, path: string, detail: string): void {
    const kind = res.typeUrl.slice(res.typeUrl.lastIndexOf('.') + 1);
    const pos = res.positions?.lookup(path, 'value') ?? res.origin;
    this.errors.push(new ConfigError(path, `${kind} "${res.name}": ${detail}`, pos));
  }

  private needCluster(res: SnapshotResource, path: string, cluster: string): void {
    if (cluster !== '' && !this.snapshot.resources(TypeUrl.Cluster).has(cluster)) {
      this.fail(res, path, `cluster "${cluster}" is not in the snapshot`);
    }
  }

  listener(res: SnapshotResource): void {
    const l = res.message as Listener;
    l.filterChains.forEach((fc, i) => this.filterChain(res, fc, indexChild('filter_chains', i)));
    if (l.defaultFilterChain !== undefined) this.filterChain(res, l.defaultFilterChain, 'default_filter_chain');
    const api = l.apiListener?.apiListener;
    if (api !== undefined) this.networkFilter(res, api, 'api_listener.api_listener');
  }

  private filterChain(res: SnapshotResource, fc: FilterChain, path: string): void {
    fc.filters.forEach((f, i) => {
      if (f.configType.case === 'typedConfig') {
        this.networkFilter(res, f.configType.value, fieldChild(indexChild(fieldChild(path, 'filters'), i), 'typed_config'));
      }
    });
  }

  private networkFilter(res: SnapshotResource, any: Any, path: string): void {
    const type = effectiveTypeName(any);
    if (type !== HCM && type !== TCP_PROXY) return;
    let msg: Message;
    try {
      msg = unpackAny(any, path);
    } catch {
      return; // validation reports undecodable configs; nothing to cross-check here
    }
    if (type === HCM) this.hcm(res, msg as HttpConnectionManager, path);
    else this.tcpProxy(res, msg as TcpProxy, path);
  }

  private hcm(res: SnapshotResource, hcm: HttpConnectionManager, path: string): void {
    const spec = hcm.routeSpecifier;
    if (spec.case === 'rds') {
      const name = spec.value.routeConfigName;
      if (!servedHere(spec.value.configSource)) return;
      if (!this.snapshot.resources(TypeUrl.RouteConfiguration).has(name)) {
        this.fail(res, fieldChild(path, 'rds.route_config_name'), `route configuration "${name}" (rds) is not in the snapshot`);
      }
    } else if (spec.case === 'routeConfig') {
      this.routeConfig(res, spec.value, fieldChild(path, 'route_config'));
    }
  }

  private tcpProxy(res: SnapshotResource, tcp: TcpProxy, path: string): void {
    const spec = tcp.clusterSpecifier;
    if (spec.case === 'cluster') this.needCluster(res, fieldChild(path, 'cluster'), spec.value);
    else if (spec.case === 'weightedClusters') {
      spec.value.clusters.forEach((c, i) => this.needCluster(res, fieldChild(indexChild(fieldChild(path, 'weighted_clusters.clusters'), i), 'name'), c.name));
    }
  }

  routeConfig(res: SnapshotResource, rc: RouteConfiguration, path: string): void {
    rc.virtualHosts.forEach((vh, i) => this.virtualHost(res, vh, indexChild(fieldChild(path, 'virtual_hosts'), i)));
  }

  private mirrors(res: SnapshotResource, policies: RouteAction_RequestMirrorPolicy[], path: string): void {
    policies.forEach((m, i) => this.needCluster(res, fieldChild(indexChild(fieldChild(path, 'request_mirror_policies'), i), 'cluster'), m.cluster));
  }

  private virtualHost(res: SnapshotResource, vh: VirtualHost, path: string): void {
    this.mirrors(res, vh.requestMirrorPolicies, path);
    vh.routes.forEach((route, i) => {
      if (route.action.case !== 'route') return;
      const ra = route.action.value;
      const p = fieldChild(indexChild(fieldChild(path, 'routes'), i), 'route');
      const spec = ra.clusterSpecifier;
      if (spec.case === 'cluster') this.needCluster(res, fieldChild(p, 'cluster'), spec.value);
      else if (spec.case === 'weightedClusters') {
        spec.value.clusters.forEach((c, k) => this.needCluster(res, fieldChild(indexChild(fieldChild(p, 'weighted_clusters.clusters'), k), 'name'), c.name));
      }
      this.mirrors(res, ra.requestMirrorPolicies, p);
    });
  }

  cluster(res: SnapshotResource): void {
    const c = res.message as Cluster;
    if (c.clusterDiscoveryType.case !== 'type' || c.clusterDiscoveryType.value !== DISCOVERY_TYPE_EDS) return;
    if (!servedHere(c.edsClusterConfig?.edsConfig)) return;
    const serviceName = c.edsClusterConfig?.serviceName ?? '';
    const assignment = serviceName !== '' ? serviceName : c.name;
    if (!this.snapshot.resources(TypeUrl.ClusterLoadAssignment).has(assignment)) {
      const path = serviceName !== '' ? 'eds_cluster_config.service_name' : 'name';
      this.fail(res, path, `EDS cluster has no ClusterLoadAssignment "${assignment}" in the snapshot`);
    }
  }
}

/** A config source the control plane answers for (ads, api_config_source, self; or none given). */
function servedHere(cs: ConfigSource | undefined): boolean {
  const c = cs?.configSourceSpecifier.case;
  return c !== 'path' && c !== 'pathConfigSource';
}

/** Every dangling reference in `snapshot`, as ConfigErrors naming the resource, field and (when known) source line. */
export function consistencyErrors(snapshot: Snapshot): ConfigError[] {
  const checker = new Checker(snapshot);
  for (const res of snapshot.resources(TypeUrl.Listener).values()) checker.listener(res);
  for (const res of snapshot.resources(TypeUrl.RouteConfiguration).values()) checker.routeConfig(res, res.message as RouteConfiguration, '');
  for (const res of snapshot.resources(TypeUrl.Cluster).values()) checker.cluster(res);
  return checker.errors;
}
