/**
 * Test fixtures for the control plane: Envoy-format resource files (the
 * minimal set real gRPC xDS clients route with, see
 * ../shared/notes/proto-and-xds.md), a temp resource directory, the
 * `legate control-plane` process, and child processes running real xDS
 * clients (@grpc/grpc-js-xds in node, gRPC C-core in Debian's python3).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LEGATE_BIN, REPO_ROOT } from '../support/legate_process.js';

export const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const ROUTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
export const FAULT_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';

/** An api_listener (what gRPC xDS clients ask for) whose HCM takes routes over ADS. */
export function apiListenerYaml(name: string, routeName: string, opts: { routerFirst?: boolean } = {}): string {
  const router = `
      - name: envoy.filters.http.router
        typed_config: { "@type": ${ROUTER_TYPE} }`;
  const fault = `
      - name: envoy.filters.http.fault
        typed_config: { "@type": ${FAULT_TYPE} }`;
  return `"@type": type.googleapis.com/envoy.config.listener.v3.Listener
name: ${name}
api_listener:
  api_listener:
    "@type": ${HCM_TYPE}
    stat_prefix: ${name}
    rds:
      route_config_name: ${routeName}
      config_source: { ads: {}, resource_api_version: V3 }
    http_filters:${opts.routerFirst === true ? router + fault : router}
`;
}

export function routeYaml(name: string, cluster: string): string {
  return `"@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
name: ${name}
virtual_hosts:
- name: all
  domains: ["*"]
  routes:
  - match: { prefix: "" }
    route: { cluster: ${cluster} }
`;
}

export function edsClusterYaml(name: string, serviceName?: string): string {
  return `"@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
name: ${name}
type: EDS
lb_policy: ROUND_ROBIN
eds_cluster_config:
  eds_config: { ads: {}, resource_api_version: V3 }${serviceName !== undefined ? `\n  service_name: ${serviceName}` : ''}
`;
}

export function claYaml(name: string, ports: number[]): string {
  const eps = ports.map((p) => `
    - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${p} } } }
      health_status: HEALTHY`).join('');
  return `"@type": type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment
cluster_name: ${name}
endpoints:
- locality: { region: r1, zone: z1 }
  load_balancing_weight: 1
  lb_endpoints:${eps}
`;
}

/** A temp resource directory. */
export function tempResourceDir(): string {
  return mkdtempSync(join(tmpdir(), 'legate-cp-'));
}

/** Writes a file atomically (write + rename), as editors and config tools do. */
export function writeResource(dir: string, name: string, text: string): void {
  const tmp = join(dir, `.${name}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, join(dir, name));
}

/** The echo-svc service (LDS echo-svc → RDS echo-route → CDS echo-cluster → EDS echo-eds) over `ports`. */
export function writeEchoService(dir: string, ports: number[]): void {
  writeResource(dir, 'listener.yaml', apiListenerYaml('echo-svc', 'echo-route'));
  writeResource(dir, 'route.yaml', routeYaml('echo-route', 'echo-cluster'));
  // Cluster and endpoints in one multi-document file.
  writeResource(dir, 'cluster.yaml', `${edsClusterYaml('echo-cluster', 'echo-eds')}---\n${claYaml('echo-eds', ports)}`);
}

export interface OutputProcess {
  readonly proc: ChildProcess;
  output(): string;
  waitFor(re: RegExp, timeoutMs?: number, from?: number): Promise<RegExpMatchArray>;
  stop(): Promise<void>;
}

export function watchOutput(proc: ChildProcess, label: string): OutputProcess {
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const w of [...waiters]) w();
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  let exited = proc.exitCode !== null;
  proc.on('exit', () => {
    exited = true;
    for (const w of [...waiters]) w();
  });
  return {
    proc,
    output: () => out,
    waitFor(re, timeoutMs = 10000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = out.slice(from).match(re);
          if (m !== null) {
            cleanup();
            resolve(m);
          } else if (exited) {
            cleanup();
            reject(new Error(`${label} exited before printing ${re}:\n${out.slice(-4000)}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${label}: timed out waiting for ${re}:\n${out.slice(-4000)}`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    stop() {
      if (exited) return Promise.resolve();
      return new Promise<void>((resolve) => {
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
        setTimeout(() => proc.kill('SIGKILL'), 3000).unref();
      });
    },
  };
}

export interface ControlPlaneProcess extends OutputProcess {
  readonly xdsPort: number;
  readonly adminPort: number;
  admin(path: string): Promise<{ status: number; body: string }>;
}

/** Runs `legate control-plane [--dir dir] ...args` on free ports. */
export async function startControlPlane(dir: string | undefined, args: string[] = []): Promise<ControlPlaneProcess> {
  const source = dir !== undefined ? ['--dir', dir] : [];
  const proc = spawn(process.execPath, [LEGATE_BIN, 'control-plane', ...source, '--port', '0', '--admin-port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const p = watchOutput(proc, 'legate control-plane');
  const xds = await p.waitFor(/xDS listening on 127\.0\.0\.1:(\d+)/);
  const admin = await p.waitFor(/admin listening on 127\.0\.0\.1:(\d+)/);
  const adminPort = Number(admin[1]);
  return {
    ...p,
    xdsPort: Number(xds[1]),
    adminPort,
    async admin(path: string) {
      const res = await fetch(`http://127.0.0.1:${adminPort}${path}`);
      return { status: res.status, body: await res.text() };
    },
  };
}

export function xdsBootstrap(xdsPort: number, nodeId: string): string {
  return JSON.stringify({
    xds_servers: [{ server_uri: `127.0.0.1:${xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: nodeId, cluster: 'test', locality: { region: 'r1', zone: 'z1' } },
  });
}

/**
 * A node script that resolves `xds:///<target>` with @grpc/grpc-js-xds and
 * calls `/test.Echo/Unary` every 50 ms, printing `ok <reply>` or
 * `err <code> <details>` per call.
 */
const GRPC_JS_XDS_CLIENT = `
const { createRequire } = require('node:module');
const req = createRequire(process.env.LEGATE_ROOT + '/package.json');
const grpc = req('@grpc/grpc-js');
req('@grpc/grpc-js-xds').register();
const raw = (b) => b;
const Client = grpc.makeGenericClientConstructor({
  Unary: { path: '/test.Echo/Unary', requestStream: false, responseStream: false,
    requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw },
}, 'test.Echo');
const client = new Client('xds:///' + process.env.XDS_TARGET, grpc.credentials.createInsecure());
let n = 0;
function tick() {
  const i = n++;
  client.Unary(Buffer.from('call ' + i), { deadline: Date.now() + 2000 }, (err, res) => {
    if (err) console.log('err ' + err.code + ' ' + String(err.details).replace(/\\n/g, ' '));
    else console.log('ok ' + res.toString());
    setTimeout(tick, 50);
  });
}
tick();
process.on('SIGTERM', () => { client.close(); setTimeout(() => process.exit(0), 100); });
`;

export function startGrpcJsXdsClient(xdsPort: number, target: string, nodeId: string): OutputProcess {
  const dir = mkdtempSync(join(tmpdir(), 'legate-xds-client-'));
  const script = join(dir, 'client.cjs');
  writeFileSync(script, GRPC_JS_XDS_CLIENT);
  const proc = spawn(process.execPath, [script], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LEGATE_ROOT: REPO_ROOT, XDS_TARGET: target, GRPC_XDS_BOOTSTRAP_CONFIG: xdsBootstrap(xdsPort, nodeId) },
  });
  return watchOutput(proc, 'grpc-js-xds client');
}

const PYTHON_XDS_CLIENT = `
import os, sys, time, signal
import grpc
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
channel = grpc.insecure_channel('xds:///' + os.environ['XDS_TARGET'])
unary = channel.unary_unary('/test.Echo/Unary')
i = 0
while True:
    try:
        res = unary(b'call %d' % i, timeout=2)
        print('ok ' + res.decode(), flush=True)
    except grpc.RpcError as e:
        print('err %s %s' % (e.code().value[0], (e.details() or '').replace('\\n', ' ')), flush=True)
    i += 1
    time.sleep(0.05)
`;

export const SYSTEM_PYTHON = '/usr/bin/python3';

/** Whether Debian's python3 has grpc (python3-grpcio). */
export function pythonGrpcAvailable(): boolean {
  const r = spawnSync(SYSTEM_PYTHON, ['-c', 'import grpc'], { stdio: 'ignore' });
  return r.status === 0;
}

/** Tries `apt-get install -y python3-grpcio`; true when grpc imports afterwards. */
export function installPythonGrpc(): boolean {
  if (pythonGrpcAvailable()) return true;
  spawnSync('apt-get', ['install', '-y', '-qq', 'python3-grpcio'], { stdio: 'ignore', timeout: 120000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return pythonGrpcAvailable();
}

export function startPythonXdsClient(xdsPort: number, target: string, nodeId: string): OutputProcess {
  const dir = mkdtempSync(join(tmpdir(), 'legate-xds-py-'));
  const script = join(dir, 'client.py');
  writeFileSync(script, PYTHON_XDS_CLIENT);
  const proc = spawn(SYSTEM_PYTHON, ['-u', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, XDS_TARGET: target, GRPC_XDS_BOOTSTRAP_CONFIG: xdsBootstrap(xdsPort, nodeId) },
  });
  return watchOutput(proc, 'gRPC C-core (python3) client');
}
