/**
 * The xDS gRPC services as @grpc/grpc-js service definitions, written by
 * hand: `envoy.service.discovery.v3.AggregatedDiscoveryService` (ADS) and the
 * per-type services of envoy/service/{listener,route,cluster,endpoint,secret}/v3
 * (`Stream*` state of the world, `Delta*` incremental, `Fetch*` unary).
 * Messages are protobuf-es messages encoded with the schemas of the type
 * registry, so no proto-loader is involved. Exported for both sides: the
 * control plane serves them, Legate's xDS client and the tests call them.
 */
import * as grpc from '@grpc/grpc-js';
import { create, fromBinary, toBinary, type DescMessage, type Message } from '@bufbuild/protobuf';
import type {
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DiscoveryRequest,
  DiscoveryResponse,
  Resource,
} from '../generated/envoy/service/discovery/v3/discovery_pb.js';
import { messageSchema } from '../config/type_registry.js';
import { TypeUrl } from './resource_types.js';

export const DISCOVERY_REQUEST = 'envoy.service.discovery.v3.DiscoveryRequest';
export const DISCOVERY_RESPONSE = 'envoy.service.discovery.v3.DiscoveryResponse';
export const DELTA_DISCOVERY_REQUEST = 'envoy.service.discovery.v3.DeltaDiscoveryRequest';
export const DELTA_DISCOVERY_RESPONSE = 'envoy.service.discovery.v3.DeltaDiscoveryResponse';
export const RESOURCE = 'envoy.service.discovery.v3.Resource';

const schemas = new Map<string, DescMessage>();
function schema(name: string): DescMessage {
  let s = schemas.get(name);
  if (s === undefined) {
    s = messageSchema(name);
    schemas.set(name, s);
  }
  return s;
}

function serializer<T extends Message>(name: string): { serialize: (m: T) => Buffer; deserialize: (b: Buffer) => T } {
  return {
    serialize: (m: T) => {
      const bytes = toBinary(schema(name), m);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    deserialize: (b: Buffer) => fromBinary(schema(name), b) as unknown as T,
  };
}

const sotwRequest = serializer<DiscoveryRequest>(DISCOVERY_REQUEST);
const sotwResponse = serializer<DiscoveryResponse>(DISCOVERY_RESPONSE);
const deltaRequest = serializer<DeltaDiscoveryRequest>(DELTA_DISCOVERY_REQUEST);
const deltaResponse = serializer<DeltaDiscoveryResponse>(DELTA_DISCOVERY_RESPONSE);

function sotwMethod(service: string, method: string, streaming = true): grpc.MethodDefinition<DiscoveryRequest, DiscoveryResponse> {
  return {
    path: `/${service}/${method}`,
    requestStream: streaming,
    responseStream: streaming,
    requestSerialize: sotwRequest.serialize,
    requestDeserialize: sotwRequest.deserialize,
    responseSerialize: sotwResponse.serialize,
    responseDeserialize: sotwResponse.deserialize,
    originalName: method,
  };
}

function deltaMethod(service: string, method: string): grpc.MethodDefinition<DeltaDiscoveryRequest, DeltaDiscoveryResponse> {
  return {
    path: `/${service}/${method}`,
    requestStream: true,
    responseStream: true,
    requestSerialize: deltaRequest.serialize,
    requestDeserialize: deltaRequest.deserialize,
    responseSerialize: deltaResponse.serialize,
    responseDeserialize: deltaResponse.deserialize,
    originalName: method,
  };
}

export const ADS_SERVICE_NAME = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

/** `envoy.service.discovery.v3.AggregatedDiscoveryService`. */
export const AGGREGATED_DISCOVERY_SERVICE = {
  StreamAggregatedResources: sotwMethod(ADS_SERVICE_NAME, 'StreamAggregatedResources'),
  DeltaAggregatedResources: deltaMethod(ADS_SERVICE_NAME, 'DeltaAggregatedResources'),
} satisfies grpc.ServiceDefinition;

/** A per-type discovery service (LDS, RDS, CDS, EDS, SDS) and its three methods. */
export interface TypedDiscoveryService {
  readonly serviceName: string;
  readonly typeUrl: TypeUrl;
  /** Method names, e.g. StreamListeners / DeltaListeners / FetchListeners. */
  readonly streamMethod: string;
  readonly deltaMethod: string;
  readonly fetchMethod: string;
  readonly definition: grpc.ServiceDefinition;
}

function typedService(serviceName: string, typeUrl: TypeUrl, noun: string): TypedDiscoveryService {
  const streamMethod = `Stream${noun}`;
  const deltaM = `Delta${noun}`;
  const fetchMethod = `Fetch${noun}`;
  return {
    serviceName,
    typeUrl,
    streamMethod,
    deltaMethod: deltaM,
    fetchMethod,
    definition: {
      [streamMethod]: sotwMethod(serviceName, streamMethod),
      [deltaM]: deltaMethod(serviceName, deltaM),
      [fetchMethod]: sotwMethod(serviceName, fetchMethod, false),
    },
  };
}

export const LISTENER_DISCOVERY_SERVICE = typedService('envoy.service.listener.v3.ListenerDiscoveryService', TypeUrl.Listener, 'Listeners');
export const ROUTE_DISCOVERY_SERVICE = typedService('envoy.service.route.v3.RouteDiscoveryService', TypeUrl.RouteConfiguration, 'Routes');
export const CLUSTER_DISCOVERY_SERVICE = typedService('envoy.service.cluster.v3.ClusterDiscoveryService', TypeUrl.Cluster, 'Clusters');
export const ENDPOINT_DISCOVERY_SERVICE = typedService('envoy.service.endpoint.v3.EndpointDiscoveryService', TypeUrl.ClusterLoadAssignment, 'Endpoints');
export const SECRET_DISCOVERY_SERVICE = typedService('envoy.service.secret.v3.SecretDiscoveryService', TypeUrl.Secret, 'Secrets');

export const TYPED_DISCOVERY_SERVICES: ReadonlyArray<TypedDiscoveryService> = [
  LISTENER_DISCOVERY_SERVICE,
  ROUTE_DISCOVERY_SERVICE,
  CLUSTER_DISCOVERY_SERVICE,
  ENDPOINT_DISCOVERY_SERVICE,
  SECRET_DISCOVERY_SERVICE,
];

/** The per-type service carrying `typeUrl` (for `api_config_source` of api_type GRPC / DELTA_GRPC). */
export function typedServiceFor(typeUrl: string): TypedDiscoveryService | undefined {
  return TYPED_DISCOVERY_SERVICES.find((s) => s.typeUrl === typeUrl);
}

/** A grpc-js client class for a definition above (`new (discoveryClient(def, name))(addr, creds)`). */
export function discoveryClient(definition: grpc.ServiceDefinition, serviceName: string): grpc.ServiceClientConstructor {
  return grpc.makeGenericClientConstructor(definition, serviceName);
}

/** Message constructors (init objects use the protobuf-es field names: typeUrl, resourceNames, ...). */
export function newDiscoveryRequest(init: Record<string, unknown>): DiscoveryRequest {
  return create(schema(DISCOVERY_REQUEST), init as never) as unknown as DiscoveryRequest;
}

export function newDiscoveryResponse(init: Record<string, unknown>): DiscoveryResponse {
  return create(schema(DISCOVERY_RESPONSE), init as never) as unknown as DiscoveryResponse;
}

export function newDeltaDiscoveryRequest(init: Record<string, unknown>): DeltaDiscoveryRequest {
  return create(schema(DELTA_DISCOVERY_REQUEST), init as never) as unknown as DeltaDiscoveryRequest;
}

export function newDeltaDiscoveryResponse(init: Record<string, unknown>): DeltaDiscoveryResponse {
  return create(schema(DELTA_DISCOVERY_RESPONSE), init as never) as unknown as DeltaDiscoveryResponse;
}

export function newResource(init: Record<string, unknown>): Resource {
  return create(schema(RESOURCE), init as never) as unknown as Resource;
}
