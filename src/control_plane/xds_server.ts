/**
 * The xDS management server: a @grpc/grpc-js server carrying ADS and the
 * per-type discovery services, state of the world and delta, over the
 * snapshots of a SnapshotCache. After go-control-plane's `pkg/server/v3`.
 * Every accepted snapshot change is offered to every open stream, which
 * pushes what moved for its client (see sotw_stream.ts, delta_stream.ts).
 */
import * as grpc from '@grpc/grpc-js';
import type {
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DiscoveryRequest,
  DiscoveryResponse,
} from '../generated/envoy/service/discovery/v3/discovery_pb.js';
import { getLogger, type Logger } from '../common/logger.js';
import type { ControlPlaneStats } from './control_plane_stats.js';
import { DeltaStream } from './delta_stream.js';
import {
  AGGREGATED_DISCOVERY_SERVICE,
  newDiscoveryResponse,
  TYPED_DISCOVERY_SERVICES,
} from './discovery_service.js';
import { shortTypeName } from './resource_types.js';
import type { SnapshotCache } from './snapshot_cache.js';
import { SotwStream } from './sotw_stream.js';
import type { ClientStatusJson, StreamHost, XdsStream } from './xds_stream.js';

export interface XdsServerOptions {
  /** `control_plane.identifier` sent in every response. */
  readonly controlPlaneId?: string;
  /** Largest message either way (grpc-js defaults to 4 MiB; big EDS/CDS states need more). */
  readonly maxMessageBytes?: number;
}

type SotwCall = grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;
type DeltaCall = grpc.ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

export class XdsServer implements StreamHost {
  readonly log: Logger = getLogger('xds');
  readonly controlPlaneId: string;
  private readonly server: grpc.Server;
  private readonly streams = new Set<XdsStream>();
  private nextStreamId = 1;
  private readonly unsubscribe: () => void;

  constructor(
    readonly cache: SnapshotCache,
    readonly stats: ControlPlaneStats,
    options: XdsServerOptions = {},
  ) {
    this.controlPlaneId = options.controlPlaneId ?? 'legate-control-plane';
    const max = options.maxMessageBytes ?? 64 << 20;
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': max,
      'grpc.max_send_message_length': max,
      // Clients keep ADS streams open for hours; let them ping to keep NATs warm.
      'grpc.keepalive_permit_without_calls': 1,
    });
    this.server.addService(AGGREGATED_DISCOVERY_SERVICE, {
      StreamAggregatedResources: (call: SotwCall) => this.sotw(call, 'ADS', undefined),
      DeltaAggregatedResources: (call: DeltaCall) => this.delta(call, 'ADS', undefined),
    });
    for (const svc of TYPED_DISCOVERY_SERVICES) {
      const name = shortTypeName(svc.typeUrl);
      this.server.addService(svc.definition, {
        [svc.streamMethod]: (call: SotwCall) => this.sotw(call, name, svc.typeUrl),
        [svc.deltaMethod]: (call: DeltaCall) => this.delta(call, name, svc.typeUrl),
        [svc.fetchMethod]: (call: grpc.ServerUnaryCall<DiscoveryRequest, DiscoveryResponse>, cb: grpc.sendUnaryData<DiscoveryResponse>) =>
          this.fetch(call.request, svc.typeUrl, cb),
      });
    }
    this.unsubscribe = cache.onChange(() => {
      for (const s of [...this.streams]) s.onSnapshotChange();
    });
  }

  /** Binds `address:port` (port 0: any free port) and returns the bound port. */
  listen(address: string, port: number): Promise<number> {
    const target = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
    return new Promise((resolve, reject) => {
      this.server.bindAsync(target, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
    });
  }

  /**
   * Stops: xDS streams never end on their own, so open ones are cancelled
   * (clients see UNAVAILABLE and reconnect to whoever serves next).
   */
  close(): void {
    this.unsubscribe();
    for (const s of [...this.streams]) s.close();
    this.server.forceShutdown();
  }

  /** One entry per open stream, for the status page. */
  clients(): ClientStatusJson[] {
    return [...this.streams].map((s) => s.status());
  }

  private track<Req>(stream: XdsStream & { onRequest(r: Req): void }, call: grpc.ServerDuplexStream<Req, unknown>): void {
    this.streams.add(stream);
    this.stats.streamOpened(stream.protocol);
    let done = false;
    const finish = (why: string): void => {
      if (done) return;
      done = true;
      stream.close();
      this.streams.delete(stream);
      this.stats.streamClosed();
      this.log.info(`xDS stream ${stream.id} closed (${why}): node "${stream.node?.id ?? ''}" ${stream.service} ${stream.protocol}`);
    };
    call.on('data', (req: Req) => {
      try {
        stream.onRequest(req);
      } catch (e) {
        this.log.error(`xDS stream ${stream.id}: ${(e as Error).stack ?? String(e)}`);
        call.emit('error', { code: grpc.status.INTERNAL, details: (e as Error).message });
      }
    });
    call.on('end', () => {
      finish('client ended it');
      call.end();
    });
    call.on('cancelled', () => finish('cancelled'));
    call.on('error', (e: Error) => finish(e.message));
    call.on('close', () => finish('closed'));
  }

  private sotw(call: SotwCall, service: string, fixedType: string | undefined): void {
    this.track(new SotwStream(this, this.nextStreamId++, 'sotw', service, fixedType, call), call);
  }

  private delta(call: DeltaCall, service: string, fixedType: string | undefined): void {
    this.track(new DeltaStream(this, this.nextStreamId++, 'delta', service, fixedType, call), call);
  }

  /** Fetch{Listeners,...}: one SotW response for the request's names (all, when none). */
  private fetch(req: DiscoveryRequest, typeUrl: string, cb: grpc.sendUnaryData<DiscoveryResponse>): void {
    this.stats.request(shortTypeName(typeUrl));
    if (req.typeUrl !== '' && req.typeUrl !== typeUrl) {
      cb({ code: grpc.status.INVALID_ARGUMENT, details: `this service serves ${typeUrl}, not ${req.typeUrl}` });
      return;
    }
    const snapshot = this.cache.snapshotFor(req.node);
    if (snapshot === undefined) {
      cb({ code: grpc.status.UNAVAILABLE, details: 'no snapshot is being served yet' });
      return;
    }
    const all = snapshot.resources(typeUrl);
    const names = req.resourceNames.filter((n) => n !== '*');
    const selected = names.length === 0 ? [...all.values()] : names.flatMap((n) => all.get(n) ?? []);
    this.stats.push(shortTypeName(typeUrl));
    cb(null, newDiscoveryResponse({
      versionInfo: snapshot.typeVersion(typeUrl) || snapshot.version,
      resources: selected.map((r) => r.any),
      typeUrl,
      nonce: '',
      controlPlane: { identifier: this.controlPlaneId },
    }));
  }
}
