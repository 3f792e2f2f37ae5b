/**
 * What the control plane remembers about one xDS stream (one client
 * connection to ADS or a per-type service), shared by the state-of-the-world
 * and delta variants: the node it announced (only the first request carries
 * it), and per resource type the subscription, what was last sent, and the
 * last ACK and NACK. The status page renders this.
 *
 * A NACK is recorded and logged once; it is never answered by sending the
 * same thing again (that loops against every real client, see
 * go-control-plane issue #962). Only a new snapshot version or a changed
 * subscription makes the stream send.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Node } from '../generated/envoy/config/core/v3/base_pb.js';
import type { Status } from '../generated/google/rpc/status_pb.js';
import type { Logger } from '../common/logger.js';
import type { ControlPlaneStats } from './control_plane_stats.js';
import { shortTypeName } from './resource_types.js';
import type { Snapshot } from './snapshot.js';
import type { SnapshotCache } from './snapshot_cache.js';

/** What a stream needs from the server that owns it. */
export interface StreamHost {
  readonly cache: SnapshotCache;
  readonly stats: ControlPlaneStats;
  readonly log: Logger;
  /** `control_plane.identifier` in responses. */
  readonly controlPlaneId: string;
}

export type StreamProtocol = 'sotw' | 'delta';

/** Per-type state of a stream. */
export class TypeState {
  /** Subscribed to everything of the type. */
  wildcard = false;
  /** Subscribed names (besides the wildcard). */
  readonly names = new Set<string>();
  lastSentVersion = '';
  lastSentNonce = '';
  lastSentAt: Date | undefined;
  ackedVersion = '';
  ackedAt: Date | undefined;
  nackedVersion = '';
  nackError: { code: number; message: string } | undefined;
  nackedAt: Date | undefined;
  pushes = 0;
  acks = 0;
  nacks = 0;
  /** A response is owed but no snapshot was available yet. */
  pending = false;
  /** Delta: the version the client holds of each resource ("" = told it does not exist). */
  readonly clientVersions = new Map<string, string>();
  /** Delta: system_version_info of the last response, by its nonce. */
  lastSentSystemVersion = '';

  constructor(readonly typeUrl: string) {}
}

export interface TypeStatusJson {
  type_url: string;
  wildcard: boolean;
  resource_names: string[];
  last_sent_version: string;
  last_sent_nonce: string;
  last_sent_at: string | null;
  acked_version: string;
  acked_at: string | null;
  nacked_version: string;
  nack_error: { code: number; message: string } | null;
  nacked_at: string | null;
  pushes: number;
  acks: number;
  nacks: number;
}

export interface ClientStatusJson {
  stream_id: number;
  node_id: string;
  cluster: string;
  user_agent: string;
  peer: string;
  protocol: StreamProtocol;
  /** ADS, or the per-type service (LDS, CDS, ...). */
  service: string;
  connected_at: string;
  types: Record<string, TypeStatusJson>;
}

/** The part of a grpc-js server duplex call a stream writes to. */
export interface StreamCall<Res> {
  write(res: Res): boolean;
  emit(event: 'error', err: Partial<grpc.StatusObject>): boolean;
  getPeer(): string;
}

export abstract class XdsStream<Res = unknown> {
  node: Node | undefined;
  readonly types = new Map<string, TypeState>();
  readonly connectedAt = new Date();
  closed = false;
  private nonceCounter = 0;

  constructor(
    protected readonly host: StreamHost,
    readonly id: number,
    readonly protocol: StreamProtocol,
    /** 'ADS' or the short name of the per-type service. */
    readonly service: string,
    /** The only type a per-type service carries (undefined for ADS). */
    protected readonly fixedType: string | undefined,
    protected readonly call: StreamCall<Res>,
  ) {}

  /** Called after every accepted snapshot change. */
  abstract onSnapshotChange(): void;

  close(): void {
    this.closed = true;
  }

  protected nextNonce(): string {
    return String(++this.nonceCounter);
  }

  protected snapshot(): Snapshot | undefined {
    return this.host.cache.snapshotFor(this.node);
  }

  protected describeClient(): string {
    return `${this.node?.id || '(no node id)'} [stream ${this.id}, ${this.service} ${this.protocol}]`;
  }

  /** Keeps the node of the first request that has one (clients send it only once). */
  protected learnNode(node: Node | undefined): void {
    if (this.node === undefined && node !== undefined) {
      this.node = node;
      this.host.log.info(`xDS client connected: node "${node.id}" cluster "${node.cluster}" (${this.peer()}, stream ${this.id}, ${this.service} ${this.protocol})`);
    }
  }

  /**
   * The type a request is about, or undefined after failing the stream:
   * ADS needs a type_url on every request; a per-type service accepts only its own.
   */
  protected requestType(typeUrl: string): string | undefined {
    const t = typeUrl !== '' ? typeUrl : this.fixedType;
    if (t === undefined) {
      this.fail(3, 'type_url is required on every request of an aggregated (ADS) stream');
      return undefined;
    }
    if (this.fixedType !== undefined && t !== this.fixedType) {
      this.fail(3, `this ${this.service} stream serves ${this.fixedType}, not ${t}`);
      return undefined;
    }
    return t;
  }

  protected fail(code: number, details: string): void {
    this.host.log.warn(`closing xDS stream ${this.id} (${this.peer()}): ${details}`);
    this.closed = true;
    this.call.emit('error', { code, details });
  }

  protected recordAck(st: TypeState, version: string): void {
    st.ackedVersion = version;
    st.ackedAt = new Date();
    st.acks++;
    this.host.stats.ack(shortTypeName(st.typeUrl));
    this.host.log.debug(`${this.describeClient()} ACKed ${shortTypeName(st.typeUrl)} version ${version}`);
  }

  /** Records a NACK of `version`; logs it at warning level once per distinct (version, error). */
  protected recordNack(st: TypeState, version: string, error: Status): void {
    const repeated = st.nackedVersion === version && st.nackError?.message === error.message;
    st.nackedVersion = version;
    st.nackError = { code: error.code, message: error.message };
    st.nackedAt = new Date();
    st.nacks++;
    this.host.stats.nack(shortTypeName(st.typeUrl));
    const line = `${this.describeClient()} NACKed ${shortTypeName(st.typeUrl)} version ${version}: ${error.message} (code ${error.code}); keeping it until the config changes`;
    if (repeated) this.host.log.debug(line);
    else this.host.log.warn(line);
  }

  protected recordPush(st: TypeState, version: string, nonce: string): void {
    st.lastSentVersion = version;
    st.lastSentNonce = nonce;
    st.lastSentAt = new Date();
    st.pending = false;
    st.pushes++;
    this.host.stats.push(shortTypeName(st.typeUrl));
  }

  peer(): string {
    try {
      return this.call.getPeer();
    } catch {
      return 'unknown';
    }
  }

  status(): ClientStatusJson {
    const iso = (d: Date | undefined): string | null => (d === undefined ? null : d.toISOString());
    const types: Record<string, TypeStatusJson> = {};
    for (const [typeUrl, st] of this.types) {
      types[shortTypeName(typeUrl)] = {
        type_url: typeUrl,
        wildcard: st.wildcard,
        resource_names: [...st.names].sort(),
        last_sent_version: st.lastSentVersion,
        last_sent_nonce: st.lastSentNonce,
        last_sent_at: iso(st.lastSentAt),
        acked_version: st.ackedVersion,
        acked_at: iso(st.ackedAt),
        nacked_version: st.nackedVersion,
        nack_error: st.nackError ?? null,
        nacked_at: iso(st.nackedAt),
        pushes: st.pushes,
        acks: st.acks,
        nacks: st.nacks,
      };
    }
    const n = this.node;
    const version = n?.userAgentVersionType.case === 'userAgentVersion' ? ` ${n.userAgentVersionType.value}` : '';
    return {
      stream_id: this.id,
      node_id: n?.id ?? '',
      cluster: n?.cluster ?? '',
      user_agent: n !== undefined && n.userAgentName !== '' ? `${n.userAgentName}${version}` : '',
      peer: this.peer(),
      protocol: this.protocol,
      service: this.service,
      connected_at: this.connectedAt.toISOString(),
      types,
    };
  }
}
