/**
 * Helpers for the active health checking tests: a cluster manager built from
 * a bootstrap YAML with a simulated clock, plus small real TCP and gRPC
 * health servers.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { loadBootstrap } from '../../src/config/bootstrap_loader.js';
import { registerBuiltinExtensions } from '../../src/extensions/index.js';
import { AccessLogManager } from '../../src/logging/access_log_file.js';
import { createClusterManager, type ServerClusterManager } from '../../src/server/cluster_manager_factory.js';
import { StatsStore } from '../../src/stats/stats_impl.js';
import { SimulatedTimeSource } from '../support/simulated_time.js';
import type { Host } from '../../src/envoy/upstream/host.js';

export interface HcHarness {
  readonly cm: ServerClusterManager;
  readonly time: SimulatedTimeSource;
  readonly stats: StatsStore;
  readonly logs: AccessLogManager;
  stat(name: string): number | undefined;
  /** Host of `cluster` listening on `port`. */
  host(cluster: string, port: number): Host;
  /** `n` picks of the load balancer, as ports. */
  picks(cluster: string, n: number): number[];
  /** Advances the simulated clock, then lets the sockets it touched work. */
  step(ms: number, settleMs?: number): Promise<void>;
  stop(): void;
}

export function clusterYaml(name: string, ports: number[], healthCheck: string, extra = ''): string {
  const eps = ports.map((p) => `
            - endpoint:
                address: { socket_address: { address: 127.0.0.1, port_value: ${p} } }`).join('');
  return `
    - name: ${name}
      type: STATIC
      connect_timeout: 1s
${extra}
      load_assignment:
        cluster_name: ${name}
        endpoints:
        - lb_endpoints:${eps}
      health_checks:
${healthCheck.split('\n').map((l) => (l.trim() === '' ? '' : `      ${l}`)).join('\n')}`;
}

export function bootstrapYaml(clusters: string): string {
  return `
static_resources:
  clusters:${clusters}
`;
}

/** Builds the cluster manager and waits for the first round of checks (cluster warming). */
export async function startHarness(yaml: string): Promise<HcHarness> {
  registerBuiltinExtensions();
  const b = loadBootstrap({ configYaml: yaml }).bootstrap;
  const stats = new StatsStore();
  const time = new SimulatedTimeSource();
  const logs = new AccessLogManager({ flushIntervalMs: 3_600_000 });
  const cm = createClusterManager({ stats }, b, undefined, { timeSource: time, accessLogManager: logs });
  const h: HcHarness = {
    cm, time, stats, logs,
    stat(name) {
      return (stats.sortedCounters().find((c) => c.name === name) ?? stats.sortedGauges().find((g) => g.name === name))?.value();
    },
    host(cluster, port) {
      const c = cm.getThreadLocalCluster(cluster) ?? cm.allClusters().find((x) => x.name === cluster);
      if (c === undefined) throw new Error(`no cluster ${cluster}`);
      const tlc = cm.getThreadLocalCluster(cluster);
      if (tlc === undefined) throw new Error(`cluster ${cluster} not routable`);
      const found = tlc.prioritySet.hostSetsPerPriority.flatMap((hs) => hs.hosts).find((x) => x.port === port);
      if (found === undefined) throw new Error(`no host :${port} in ${cluster}`);
      return found;
    },
    picks(cluster, n) {
      const tlc = cm.getThreadLocalCluster(cluster);
      if (tlc === undefined) throw new Error(`cluster ${cluster} not routable`);
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push(tlc.chooseHost(null)?.port ?? -1);
      return out;
    },
    async step(ms, settleMs = 60) {
      await time.advanceAndSettle(ms, settleMs);
    },
    stop() {
      cm.shutdown();
      logs.close();
    },
  };
  await waitFor(() => cm.initializingClusterNames().length === 0 && cm.clusterNames().every((n) => cm.getThreadLocalCluster(n) !== undefined), 'cluster warming');
  return h;
}

export async function waitFor(fn: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface TcpTestServer {
  readonly port: number;
  /** Connections open now. */
  connections(): number;
  close(): Promise<void>;
}

/** A TCP server that answers each chunk with `reply(chunk)` (null: say nothing). */
export async function startTcpServer(reply: (chunk: Buffer) => Buffer | null): Promise<TcpTestServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.on('data', (d) => {
      const r = reply(d);
      if (r !== null) s.write(r);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => sockets.size,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

/** grpc.health.v1.Health with hand-written (de)serializers: HealthCheckRequest{service=1}, HealthCheckResponse{status=1}. */
const HEALTH_SERVICE: grpc.ServiceDefinition = {
  Check: {
    path: '/grpc.health.v1.Health/Check',
    requestStream: false,
    responseStream: false,
    requestSerialize: (v: { service: string }) => {
      const s = Buffer.from(v.service);
      return s.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a, s.length]), s]);
    },
    requestDeserialize: (b: Buffer) => ({ service: b.length > 2 ? b.subarray(2, 2 + b[1]!).toString() : '' }),
    responseSerialize: (v: { status: number }) => (v.status === 0 ? Buffer.alloc(0) : Buffer.from([0x08, v.status])),
    responseDeserialize: (b: Buffer) => ({ status: b.length >= 2 ? b[1]! : 0 }),
  },
};

export const ServingStatus = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;

export interface GrpcHealthServer {
  readonly port: number;
  /** Status answered per service name ('' = the server). */
  readonly statuses: Map<string, number>;
  /** Service names asked for, in order. */
  readonly asked: string[];
  /** Authorities seen. */
  readonly authorities: string[];
  close(): Promise<void>;
}

export async function startGrpcHealthServer(): Promise<GrpcHealthServer> {
  const server = new grpc.Server();
  const statuses = new Map<string, number>();
  const asked: string[] = [];
  const authorities: string[] = [];
  server.addService(HEALTH_SERVICE, {
    Check: (call: grpc.ServerUnaryCall<{ service: string }, { status: number }>, cb: grpc.sendUnaryData<{ status: number }>) => {
      asked.push(call.request.service);
      authorities.push(call.getHost());
      const st = statuses.get(call.request.service);
      if (st === undefined) cb({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
      else cb(null, { status: st });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return {
    port, statuses, asked, authorities,
    close: () => new Promise<void>((r) => server.tryShutdown(() => r())).then(() => server.forceShutdown()),
  };
}
