/**
 * The resource types Legate's control plane serves: their type URLs, the
 * field that names each resource, and the order in which a snapshot change
 * is pushed. Follows go-control-plane's `pkg/resource/v3` and Envoy's
 * "eventual consistency considerations" (xds_protocol.rst): a change is made
 * before anything that points at it is changed (make-before-break).
 */
import type { Message } from '@bufbuild/protobuf';
import { TypeUrl } from '../envoy/config/subscription.js';
import { typeUrlToName } from '../config/type_registry.js';

export { TypeUrl };

export interface ResourceKind {
  readonly typeUrl: TypeUrl;
  /** Fully-qualified message name, e.g. `envoy.config.listener.v3.Listener`. */
  readonly messageName: string;
  /** Short name used in logs and metrics labels (Envoy's LDS, RDS, ...). */
  readonly shortName: 'LDS' | 'RDS' | 'CDS' | 'EDS' | 'SDS';
  /** The proto field that names the resource. */
  readonly nameField: string;
  /**
   * SotW: an empty `resource_names` on the first request of a stream is the
   * legacy wildcard ("everything") only for these types.
   */
  readonly legacyWildcard: boolean;
}

function kind(typeUrl: TypeUrl, shortName: ResourceKind['shortName'], nameField: string, legacyWildcard: boolean): ResourceKind {
  return { typeUrl, messageName: typeUrlToName(typeUrl), shortName, nameField, legacyWildcard };
}

export const RESOURCE_KINDS: ReadonlyArray<ResourceKind> = [
  kind(TypeUrl.Listener, 'LDS', 'name', true),
  kind(TypeUrl.RouteConfiguration, 'RDS', 'name', false),
  kind(TypeUrl.Cluster, 'CDS', 'name', true),
  kind(TypeUrl.ClusterLoadAssignment, 'EDS', 'cluster_name', false),
  kind(TypeUrl.Secret, 'SDS', 'name', false),
];

const BY_URL = new Map<string, ResourceKind>(RESOURCE_KINDS.map((k) => [k.typeUrl, k]));
const BY_MESSAGE = new Map<string, ResourceKind>(RESOURCE_KINDS.map((k) => [k.messageName, k]));

export function kindOfTypeUrl(typeUrl: string): ResourceKind | undefined {
  return BY_URL.get(typeUrl);
}

export function kindOfMessage(messageName: string): ResourceKind | undefined {
  return BY_MESSAGE.get(messageName);
}

/** `LDS` for the Listener type URL; the type URL itself for anything else. */
export function shortTypeName(typeUrl: string): string {
  return BY_URL.get(typeUrl)?.shortName ?? typeUrl;
}

/**
 * Push order on a snapshot change. Secrets first (clusters and listeners
 * wait for the secrets their TLS contexts name), then Envoy's documented
 * order: clusters, their endpoints, listeners, their routes.
 */
export const PUSH_ORDER: ReadonlyArray<TypeUrl> = [
  TypeUrl.Secret,
  TypeUrl.Cluster,
  TypeUrl.ClusterLoadAssignment,
  TypeUrl.Listener,
  TypeUrl.RouteConfiguration,
];

/** Sort key of a type URL in PUSH_ORDER (unknown types last). */
export function pushRank(typeUrl: string): number {
  const i = PUSH_ORDER.indexOf(typeUrl as TypeUrl);
  return i < 0 ? PUSH_ORDER.length : i;
}

/** The name of a resource (Listener.name, ClusterLoadAssignment.cluster_name, ...). */
export function resourceName(msg: Message): string {
  const k = BY_MESSAGE.get(msg.$typeName);
  const record = msg as unknown as Record<string, unknown>;
  const v = k?.nameField === 'cluster_name' ? record['clusterName'] : record['name'];
  return typeof v === 'string' ? v : '';
}
