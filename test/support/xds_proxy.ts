/**
 * An in-process Legate data path for testing xDS consumers: the cluster
 * manager built from a bootstrap by createClusterManager (with an
 * InMemorySubscriptionFactory as its xDS transport), and one real listener on
 * 127.0.0.1:0 whose HCM routes every request to the cluster named by its
 * `x-cluster` header (validate_clusters off, so clusters may come later).
 * Requests go through the real HCM, router, pools and sockets.
 *
 * Also: upstreams that say who they are and on which connection a request
 * came (`x-upstream`, `x-conn` = the proxy's source port), can hold responses
 * until the test releases them, and count their open connections.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Message } from '@bufbuild/protobuf';
import { unpackAny } from '../../src/config/type_registry.js';
import { TypeUrl, type DecodedResource } from '../../src/envoy/config/subscription.js';
import type { Bootstrap } from '../../src/generated/envoy/config/bootstrap/v3/bootstrap_pb.js';
import type { Cluster } from '../../src/generated/envoy/config/cluster/v3/cluster_pb.js';
import type { ClusterLoadAssignment } from '../../src/generated/envoy/config/endpoint/v3/endpoint_pb.js';
import { registerBuiltinExtensions } from '../../src/extensions/index.js';
import { ListenerManagerImpl } from '../../src/listener/listener_manager_impl.js';
import { createClusterManager } from '../../src/server/cluster_manager_factory.js';
import { DrainManager } from '../../src/server/drain_manager.js';
import { StatsStore } from '../../src/stats/stats_impl.js';
import type { ClusterManagerImpl } from '../../src/upstream/cluster_manager_impl.js';
import { messageFromYaml } from '../upstream/helpers.js';
import { InMemorySubscriptionFactory } from './in_memory_subscriptions.js';

export interface TestProxy {
  readonly port: number;
  readonly cm: ClusterManagerImpl;
  readonly store: StatsStore;
  readonly xds: InMemorySubscriptionFactory;
  /** A counter or gauge value by full name (undefined when the stat does not exist). */
  stat(name: string): number | undefined;
  /** GET `path` to the cluster named `cluster` (fresh client connection). */
  get(cluster: string, path?: string): Promise<ProxyResponse>;
  /** Pushes Cluster resources (CDS); returns the errors the consumers threw (NACKs). */
  pushClusters(clusters: Cluster[], removed?: string[], version?: string): Error[];
  /** Pushes ClusterLoadAssignments (EDS). */
  pushAssignments(clas: ClusterLoadAssignment[], removed?: string[], version?: string): Error[];
  close(): void;
}

export interface ProxyResponse {
  status: number;
  /** The upstream's name (x-upstream), or '' for a local reply. */
  upstream: string;
  /** The proxy's source port on the upstream connection (x-conn). */
  conn: number;
  body: string;
}

export function clusterMsg(yaml: string): Cluster {
  return messageFromYaml<Cluster>('envoy.config.cluster.v3.Cluster', yaml);
}

export function claMsg(yaml: string): ClusterLoadAssignment {
  return messageFromYaml<ClusterLoadAssignment>('envoy.config.endpoint.v3.ClusterLoadAssignment', yaml);
}

/** A ClusterLoadAssignment with one locality of 127.0.0.1 endpoints, `port` or `{ port, extra }`. */
export function assignment(name: string, endpoints: Array<number | { port: number; extra?: string }>, extra = ''): ClusterLoadAssignment {
  const eps = endpoints.map((e) => {
    const { port, extra: x } = typeof e === 'number' ? { port: e, extra: '' } : e;
    return `  - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } }${x ? `\n    ${x}` : ''}`;
  });
  return claMsg(`
cluster_name: ${name}
${extra}
endpoints:
- locality: { region: r1 }
  lb_endpoints:
${eps.join('\n')}
`);
}

/** A STATIC cluster with 127.0.0.1 endpoints (as CDS would send it). */
export function staticClusterMsg(name: string, ports: number[], extra = ''): Cluster {
  return clusterMsg(`
name: ${name}
type: STATIC
${extra.includes('connect_timeout') ? '' : 'connect_timeout: 1s'}
${extra}
load_assignment:
  cluster_name: ${name}
  endpoints:
  - lb_endpoints:
${ports.map((p) => `    - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${p} } } }`).join('\n')}
`);
}

/** An EDS cluster over ADS (the in-memory transport does not care which source). */
export function edsClusterMsg(name: string, o: { serviceName?: string; initialFetchTimeout?: string; extra?: string } = {}): Cluster {
  return clusterMsg(edsClusterYaml(name, o));
}

/** The YAML of edsClusterMsg(), usable as a static_resources.clusters item body. */
export function edsClusterYaml(name: string, o: { serviceName?: string; initialFetchTimeout?: string; extra?: string } = {}): string {
  const ift = o.initialFetchTimeout === undefined ? '' : `, initial_fetch_timeout: ${o.initialFetchTimeout}`;
  return `
name: ${name}
type: EDS
connect_timeout: 1s
${o.extra ?? ''}
eds_cluster_config:
  eds_config: { ads: {}, resource_api_version: V3${ift} }
${o.serviceName ? `  service_name: ${o.serviceName}` : ''}
`;
}

function resources<T extends Message>(list: T[], nameOf: (m: T) => string, version: string): Array<DecodedResource<T>> {
  return list.map((m) => ({ name: nameOf(m), version, resource: m }));
}

/**
 * Starts the proxy. `clusters` is the YAML list under static_resources.clusters
 * (may be empty); `cds` adds `dynamic_resources.cds_config` (ads). Does not
 * wait for cm.initialized() — tests that need it await it themselves.
 */
export async function startProxy(opts: { clusters?: string; cds?: boolean | string } = {}): Promise<TestProxy> {
  registerBuiltinExtensions();
  const cds = opts.cds === true ? 'cds_config: { ads: {}, resource_api_version: V3 }' : typeof opts.cds === 'string' ? opts.cds : '';
  const bootstrap = messageFromYaml<Bootstrap>('envoy.config.bootstrap.v3.Bootstrap', `
static_resources:
  listeners:
  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
          route_config:
            name: local_route
            validate_clusters: false
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster_header: x-cluster, timeout: 10s }
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters: ${opts.clusters === undefined || opts.clusters.trim() === '' ? '[]' : `\n${opts.clusters}`}
${cds ? `dynamic_resources:\n  ${cds}` : ''}
`);
  const store = new StatsStore();
  const xds = new InMemorySubscriptionFactory();
  const cm = createClusterManager({ stats: store }, bootstrap, undefined, { subscriptionFactory: xds });
  const drain = new DrainManager();
  const lm = new ListenerManagerImpl(store.rootScope, (listener, listenerScope) => ({
    scope: store.rootScope,
    listenerScope,
    clusterManager: cm,
    localInfo: { nodeId: 'test', clusterName: 'test', zone: '' },
    drainDecision: drain,
    configDir: process.cwd(),
    listener,
    unpackAny: (any, path) => unpackAny(any as never, path),
    warn: () => {},
  }));
  await lm.addStaticListeners(bootstrap.staticResources?.listeners ?? [], true);
  const port = lm.listeners[0].boundPort;
  return {
    port,
    cm,
    store,
    xds,
    stat: (name) => (store.counters.get(name) ?? store.gauges.get(name))?.value(),
    get: (cluster, path = '/') => proxyGet(port, cluster, path),
    pushClusters: (clusters, removed = [], version = '1') =>
      xds.push(TypeUrl.Cluster, resources(clusters, (c) => c.name, version), removed, version),
    pushAssignments: (clas, removed = [], version = '1') =>
      xds.push(TypeUrl.ClusterLoadAssignment, resources(clas, (c) => c.clusterName, version), removed, version),
    close: () => {
      lm.stopListeners();
      lm.closeAllConnections();
      cm.shutdown();
    },
  };
}

function proxyGet(port: number, cluster: string, path: string): Promise<ProxyResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent: false, headers: { 'x-cluster': cluster } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode ?? 0,
        upstream: String(res.headers['x-upstream'] ?? ''),
        conn: Number(res.headers['x-conn'] ?? 0),
        body: Buffer.concat(chunks).toString(),
      }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export interface NamedUpstream {
  readonly name: string;
  readonly port: number;
  /** Requests received. */
  readonly hits: number;
  /** Connections currently open (from the proxy). */
  readonly openConnections: number;
  /** Requests to `/hold` wait until release() (or the upstream closes). */
  release(): void;
  /** Resolves once `n` held requests are waiting. */
  held(n?: number): Promise<void>;
  close(): Promise<void>;
}

/** An HTTP/1.1 upstream on 127.0.0.1:0 that names itself in `x-upstream` and holds `/hold` requests. */
export async function startNamedUpstream(name: string): Promise<NamedUpstream> {
  const sockets = new Set<net.Socket>();
  let hits = 0;
  let waiting: Array<() => void> = [];
  let heldWaiters: Array<{ n: number; resolve: () => void }> = [];
  const notifyHeld = (): void => {
    heldWaiters = heldWaiters.filter((w) => {
      if (waiting.length >= w.n) { w.resolve(); return false; }
      return true;
    });
  };
  const server = http.createServer((req, res) => {
    hits++;
    const answer = (): void => {
      res.setHeader('x-upstream', name);
      res.setHeader('x-conn', String(req.socket.remotePort ?? 0));
      res.end(`${name} ${req.url ?? ''}`);
    };
    if (req.url === '/hold') {
      waiting.push(answer);
      notifyHeld();
    } else {
      answer();
    }
  });
  // Idle connections stay open until the proxy closes them (tests watch for that).
  server.keepAliveTimeout = 0;
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    name,
    port: (server.address() as AddressInfo).port,
    get hits() { return hits; },
    get openConnections() { return sockets.size; },
    release: () => {
      const w = waiting;
      waiting = [];
      for (const a of w) a();
    },
    held: (n = 1) => new Promise<void>((resolve) => { heldWaiters.push({ n, resolve }); notifyHeld(); }),
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}
