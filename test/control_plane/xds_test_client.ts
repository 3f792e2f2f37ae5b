/**
 * A raw xDS client for protocol tests: a grpc-js client on the control
 * plane's own service definitions (src/control_plane/discovery_service.ts)
 * that queues responses so a test can take them one by one, or check that
 * none arrives for a while.
 */
import * as grpc from '@grpc/grpc-js';
import type { Message } from '@bufbuild/protobuf';
import type { Any } from '@bufbuild/protobuf/wkt';
import type {
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DiscoveryRequest,
  DiscoveryResponse,
} from '../../src/generated/envoy/service/discovery/v3/discovery_pb.js';
import { unpackAny } from '../../src/config/type_registry.js';
import {
  ADS_SERVICE_NAME,
  AGGREGATED_DISCOVERY_SERVICE,
  discoveryClient,
  newDeltaDiscoveryRequest,
  newDiscoveryRequest,
  type TypedDiscoveryService,
} from '../../src/control_plane/discovery_service.js';

type AnyClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

export class RawStream<Req, Res> {
  private readonly queue: Res[] = [];
  private waiter: (() => void) | undefined;
  /** Resolves with the stream's final status. */
  readonly status: Promise<grpc.StatusObject>;

  constructor(readonly call: grpc.ClientDuplexStream<Req, Res>) {
    call.on('data', (res: Res) => {
      this.queue.push(res);
      this.waiter?.();
    });
    this.status = new Promise((resolve) => {
      call.on('status', (s: grpc.StatusObject) => resolve(s));
      call.on('error', () => undefined); // the status carries it
    });
  }

  send(req: Req): void {
    this.call.write(req);
  }

  /** The next response (waits up to `timeoutMs`). */
  async next(timeoutMs = 3000): Promise<Res> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no response within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.queue.shift() as Res;
  }

  /** Waits `ms` and returns (and consumes) whatever arrived meanwhile. */
  async quiet(ms: number): Promise<Res[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.queue.splice(0);
  }

  close(): void {
    this.call.cancel();
  }
}

export type SotwStream = RawStream<DiscoveryRequest, DiscoveryResponse>;
export type DeltaStream = RawStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

export class XdsTestClient {
  private readonly clients: grpc.Client[] = [];

  constructor(private readonly port: number) {}

  private client(definition: grpc.ServiceDefinition, name: string): AnyClient {
    const Ctor = discoveryClient(definition, name);
    const c = new Ctor(`127.0.0.1:${this.port}`, grpc.credentials.createInsecure()) as unknown as AnyClient;
    this.clients.push(c);
    return c;
  }

  ads(): SotwStream {
    const c = this.client(AGGREGATED_DISCOVERY_SERVICE, ADS_SERVICE_NAME);
    return new RawStream(c['StreamAggregatedResources']!() as grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>);
  }

  deltaAds(): DeltaStream {
    const c = this.client(AGGREGATED_DISCOVERY_SERVICE, ADS_SERVICE_NAME);
    return new RawStream(c['DeltaAggregatedResources']!() as grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>);
  }

  typed(svc: TypedDiscoveryService): SotwStream {
    const c = this.client(svc.definition, svc.serviceName);
    return new RawStream(c[svc.streamMethod]!() as grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>);
  }

  typedDelta(svc: TypedDiscoveryService): DeltaStream {
    const c = this.client(svc.definition, svc.serviceName);
    return new RawStream(c[svc.deltaMethod]!() as grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>);
  }

  fetch(svc: TypedDiscoveryService, req: DiscoveryRequest): Promise<DiscoveryResponse> {
    const c = this.client(svc.definition, svc.serviceName);
    return new Promise((resolve, reject) => {
      c[svc.fetchMethod]!(req, (err: grpc.ServiceError | null, res: DiscoveryResponse) => (err ? reject(err) : resolve(res)));
    });
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}

export function sotwRequest(init: {
  typeUrl: string;
  names?: string[];
  version?: string;
  nonce?: string;
  nodeId?: string;
  nodeCluster?: string;
  error?: string;
}): DiscoveryRequest {
  return newDiscoveryRequest({
    typeUrl: init.typeUrl,
    resourceNames: init.names ?? [],
    versionInfo: init.version ?? '',
    responseNonce: init.nonce ?? '',
    ...(init.nodeId !== undefined || init.nodeCluster !== undefined ? { node: { id: init.nodeId ?? '', cluster: init.nodeCluster ?? '' } } : {}),
    ...(init.error !== undefined ? { errorDetail: { code: 3, message: init.error } } : {}),
  });
}

export function deltaRequest(init: {
  typeUrl: string;
  subscribe?: string[];
  unsubscribe?: string[];
  nonce?: string;
  nodeId?: string;
  initialVersions?: Record<string, string>;
  error?: string;
}): DeltaDiscoveryRequest {
  return newDeltaDiscoveryRequest({
    typeUrl: init.typeUrl,
    resourceNamesSubscribe: init.subscribe ?? [],
    resourceNamesUnsubscribe: init.unsubscribe ?? [],
    responseNonce: init.nonce ?? '',
    initialResourceVersions: init.initialVersions ?? {},
    ...(init.nodeId !== undefined ? { node: { id: init.nodeId } } : {}),
    ...(init.error !== undefined ? { errorDetail: { code: 3, message: init.error } } : {}),
  });
}

/** The names of the resources of a SotW response. */
export function namesOf(res: DiscoveryResponse): string[] {
  return res.resources.map((a) => resourceNameOf(a)).sort();
}

export function resourceNameOf(any: Any): string {
  const msg = unpackAny(any, '') as Message & { name?: string; clusterName?: string };
  return msg.clusterName ?? msg.name ?? '';
}

export function unpack<T extends Message>(any: Any): T {
  return unpackAny(any, '') as T;
}
