/**
 * A scripted xDS management server for testing Legate's xDS client: a real
 * @grpc/grpc-js server speaking ADS (state of the world and delta) whose
 * tests read each request the client sends and answer by hand, so protocol
 * details (versions, nonces, NACKs, repeats, ordering, disconnects) can be
 * driven exactly. Messages go through protobuf-es and Legate's type registry.
 */
import * as grpc from '@grpc/grpc-js';
import { create, type Message } from '@bufbuild/protobuf';
import { anyPack } from '@bufbuild/protobuf/wkt';
import { messageSchema } from '../../src/config/type_registry.js';
import { AGGREGATED_DISCOVERY_SERVICE, DELTA_DISCOVERY_RESPONSE, DISCOVERY_RESPONSE } from '../../src/control_plane/discovery_service.js';
import type {
  DeltaDiscoveryRequest,
  DiscoveryRequest,
} from '../../src/generated/envoy/service/discovery/v3/discovery_pb.js';

/** A request of either protocol (fields of the other are absent). */
export type XdsRequest = Omit<DiscoveryRequest, '$typeName'> & Omit<DeltaDiscoveryRequest, '$typeName' | 'node' | 'typeUrl' | 'responseNonce' | 'errorDetail'>;


/** A resource from a JSON-ish init object (protobuf-es `create` shape, camelCase fields). */
export function resource(typeName: string, init: Record<string, unknown>) {
  const schema = messageSchema(typeName);
  return anyPack(schema, create(schema, init as never));
}

export interface XdsClientStream {
  readonly delta: boolean;
  readonly requests: XdsRequest[];
  /** Resolves with the next request (optionally of a type). */
  nextRequest(typeUrl?: string, timeoutMs?: number): Promise<XdsRequest>;
  sendSotw(typeUrl: string, versionInfo: string, nonce: string, resources: ReturnType<typeof resource>[]): void;
  sendDelta(typeUrl: string, systemVersionInfo: string, nonce: string, resources: Array<{ name: string; version: string; resource: ReturnType<typeof resource> }>, removed?: string[]): void;
  /** Ends the stream with a gRPC status. */
  end(code?: grpc.status, details?: string): void;
  readonly closed: boolean;
}

export interface ScriptedXdsServer {
  readonly port: number;
  readonly streams: XdsClientStream[];
  /** Resolves with the next stream the client opens. */
  nextStream(timeoutMs?: number): Promise<XdsClientStream>;
  /** Called for every SotW request (after recording), e.g. to answer NACKs automatically. */
  onRequest?: (stream: XdsClientStream, req: XdsRequest) => void;
  close(): Promise<void>;
}

export async function startScriptedXdsServer(): Promise<ScriptedXdsServer> {
  const server = new grpc.Server();
  const streamWaiters: Array<(s: XdsClientStream) => void> = [];
  const self: ScriptedXdsServer = {
    port: 0,
    streams: [],
    nextStream(timeoutMs = 5000) {
      const unclaimed = self.streams.find((s) => !(s as { claimed?: boolean }).claimed);
      if (unclaimed) { (unclaimed as { claimed?: boolean }).claimed = true; return Promise.resolve(unclaimed); }
      return withTimeout(new Promise((r) => streamWaiters.push(r)), timeoutMs, 'no xDS stream opened');
    },
    close: () => new Promise<void>((r) => server.tryShutdown(() => r())).then(() => server.forceShutdown()),
  };
  const handle = (delta: boolean) => (call: grpc.ServerDuplexStream<Message, Message>) => {
    const waiters: Array<{ typeUrl?: string; resolve: (r: XdsRequest) => void }> = [];
    let taken = 0;
    const s: XdsClientStream & { closed: boolean } = {
      delta,
      requests: [],
      closed: false,
      nextRequest(typeUrl, timeoutMs = 5000) {
        for (let i = taken; i < s.requests.length; i++) {
          const r = s.requests[i]!;
          if (typeUrl === undefined || r.typeUrl === typeUrl) { taken = i + 1; return Promise.resolve(r); }
        }
        return withTimeout(new Promise((resolve) => waiters.push({ typeUrl, resolve })), timeoutMs, `no ${typeUrl ?? ''} request`);
      },
      sendSotw(typeUrl, versionInfo, nonce, resources) {
        call.write(create(messageSchema(DISCOVERY_RESPONSE), { typeUrl, versionInfo, nonce, resources } as never));
      },
      sendDelta(typeUrl, systemVersionInfo, nonce, resources, removed = []) {
        call.write(create(messageSchema(DELTA_DISCOVERY_RESPONSE), { typeUrl, systemVersionInfo, nonce, resources, removedResources: removed } as never));
      },
      end(code = grpc.status.UNAVAILABLE, details = 'closed by test') {
        if (s.closed) return;
        s.closed = true;
        call.emit('error', { code, details });
        call.destroy(Object.assign(new Error(details), { code }));
      },
    };
    call.on('data', (m: Message) => {
      const req = m as unknown as XdsRequest;
      s.requests.push(req);
      const i = waiters.findIndex((w) => w.typeUrl === undefined || w.typeUrl === req.typeUrl);
      if (i !== -1) { taken = s.requests.length; waiters.splice(i, 1)[0]!.resolve(req); }
      self.onRequest?.(s, req);
    });
    call.on('end', () => { s.closed = true; call.end(); });
    call.on('error', () => { s.closed = true; });
    call.on('cancelled', () => { s.closed = true; });
    self.streams.push(s);
    const w = streamWaiters.shift();
    if (w) { (s as { claimed?: boolean }).claimed = true; w(s); }
  };
  server.addService(AGGREGATED_DISCOVERY_SERVICE, {
    StreamAggregatedResources: handle(false),
    DeltaAggregatedResources: handle(true),
  } as grpc.UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  (self as { port: number }).port = port;
  return self;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}
