/**
 * Decoding of xDS resources: an `Any` from a DiscoveryResponse (or a file) →
 * the message, checked against its type URL and its PGV rules, with the
 * resource's name (Envoy's `DecodedResourceImpl` + the per-type
 * `resourceName()` of each subscription's resource decoder).
 */
import type { Message } from '@bufbuild/protobuf';
import type { Any } from '@bufbuild/protobuf/wkt';
import { ConfigError } from '../config/config_error.js';
import { collectViolations } from '../config/pgv_validator.js';
import { typeUrlToName, unpackAny } from '../config/type_registry.js';
import { TypeUrl } from '../envoy/config/subscription.js';
import { decodeClusterLoadAssignment } from './cluster_load_assignment_decoder.js';

/** The short name Envoy uses for each type in logs and stats paths. */
export function typeShortName(typeUrl: string): string {
  switch (typeUrl) {
    case TypeUrl.Listener: return 'Listener';
    case TypeUrl.RouteConfiguration: return 'RouteConfiguration';
    case TypeUrl.Cluster: return 'Cluster';
    case TypeUrl.ClusterLoadAssignment: return 'ClusterLoadAssignment';
    case TypeUrl.Secret: return 'Secret';
    default: return typeUrlToName(typeUrl);
  }
}

/** The resource's name: `name`, or `cluster_name` for a ClusterLoadAssignment. */
export function resourceName(typeUrl: string, msg: Message): string {
  const m = msg as unknown as { name?: string; clusterName?: string };
  return typeUrl === TypeUrl.ClusterLoadAssignment ? (m.clusterName ?? '') : (m.name ?? '');
}

/** True for the types where a state-of-the-world response is the full set (a missing name is a removal). */
export function isWildcardType(typeUrl: string): boolean {
  return typeUrl === TypeUrl.Listener || typeUrl === TypeUrl.Cluster;
}

/**
 * Unpacks and validates one resource. `path` names it in errors, e.g.
 * `Cluster 'backend'` or `resources[2]`. Throws ConfigError.
 */
export function decodeResource(any: Any, typeUrl: string, path: string): { name: string; message: Message } {
  if (any.typeUrl !== typeUrl) {
    throw new ConfigError(path, `resource type ${any.typeUrl || '(empty)'} does not match the subscription's ${typeUrl}`);
  }
  const message = (typeUrl === TypeUrl.ClusterLoadAssignment ? fastClusterLoadAssignment(any) : null) ?? unpackAny(any, path);
  const name = resourceName(typeUrl, message);
  const where = name !== '' ? `${typeShortName(typeUrl)} '${name}'` : path;
  const violations = collectViolations(message, where);
  if (violations.length > 0) throw ConfigError.combine(violations);
  if (name === '') throw new ConfigError(path, `${typeShortName(typeUrl)} has no name`);
  return { name, message };
}

/** EDS updates are the big ones: the hand decoder, or null to decode generically (which also reports malformed input). */
function fastClusterLoadAssignment(any: Any): Message | null {
  try {
    return decodeClusterLoadAssignment(any.value);
  } catch {
    return null;
  }
}
