/**
 * A snapshot: the complete set of resources the control plane serves to a
 * node, per type URL, with a version per type. After go-control-plane's
 * `pkg/cache/v3/snapshot.go`. Resources are packed into `Any` and hashed once
 * when the snapshot is built, so a push costs no encoding.
 *
 * The version of a type only moves when the content of that type changed, so
 * a change of one endpoint file pushes EDS alone.
 */
import { createHash } from 'node:crypto';
import { toBinary, type Message } from '@bufbuild/protobuf';
import { anyPack, type Any } from '@bufbuild/protobuf/wkt';
import { ConfigError, type PositionLookup, type SourcePosition } from '../config/config_error.js';
import { messageSchema } from '../config/type_registry.js';
import { kindOfMessage, PUSH_ORDER, resourceName, shortTypeName, type TypeUrl } from './resource_types.js';

/** A resource as a source hands it over. */
export interface ResourceInput {
  readonly message: Message;
  /** Where the resource starts in its source (for error messages). */
  readonly origin?: SourcePosition;
  /** Field path (relative to the resource) → source position. */
  readonly positions?: PositionLookup;
}

export interface SnapshotResource extends ResourceInput {
  readonly name: string;
  readonly typeUrl: TypeUrl;
  readonly any: Any;
  /** SHA-256 (hex) of the serialized resource: its version in delta xDS. */
  readonly hash: string;
}

interface TypeEntry {
  readonly version: string;
  readonly digest: string;
  readonly resources: ReadonlyMap<string, SnapshotResource>;
}

const EMPTY: ReadonlyMap<string, SnapshotResource> = new Map();

function digestOf(resources: ReadonlyMap<string, SnapshotResource>): string {
  const h = createHash('sha256');
  for (const name of [...resources.keys()].sort()) h.update(`${name}\0${resources.get(name)?.hash}\0`);
  return h.digest('hex');
}

export class Snapshot {
  private constructor(
    /** The generation this snapshot was built at (the source's counter). */
    readonly version: string,
    private readonly types: ReadonlyMap<TypeUrl, TypeEntry>,
  ) {}

  /**
   * Builds a snapshot from a list of resources. Each type gets `version`,
   * unless `knownVersion` already has a version for exactly the same
   * resources of that type (see SnapshotCache.versionOfContent). Throws a
   * ConfigError listing every resource of an unsupported type, without a
   * name, or with a name used twice.
   */
  static build(
    inputs: ReadonlyArray<ResourceInput>,
    version: string,
    knownVersion: (typeUrl: string, digest: string) => string | undefined = () => undefined,
  ): Snapshot {
    const byType = new Map<TypeUrl, Map<string, SnapshotResource>>();
    const errors: ConfigError[] = [];
    for (const input of inputs) {
      const kind = kindOfMessage(input.message.$typeName);
      if (kind === undefined) {
        errors.push(new ConfigError('', `resources of type ${input.message.$typeName} are not served (only Listener, RouteConfiguration, Cluster, ClusterLoadAssignment and Secret)`, input.origin));
        continue;
      }
      const name = resourceName(input.message);
      if (name === '') {
        errors.push(new ConfigError(kind.nameField, `a ${kind.messageName} needs a non-empty ${kind.nameField}`, input.positions?.lookup(kind.nameField) ?? input.origin));
        continue;
      }
      let map = byType.get(kind.typeUrl);
      if (map === undefined) {
        map = new Map();
        byType.set(kind.typeUrl, map);
      }
      const existing = map.get(name);
      if (existing !== undefined) {
        const first = existing.origin !== undefined ? ` (first defined at ${formatPosition(existing.origin)})` : '';
        errors.push(new ConfigError(kind.nameField, `duplicate ${kind.shortName} resource name "${name}"${first}`, input.positions?.lookup(kind.nameField, 'value') ?? input.origin));
        continue;
      }
      const schema = messageSchema(kind.messageName);
      const any = anyPack(schema, input.message);
      const hash = createHash('sha256').update(toBinary(schema, input.message)).digest('hex');
      map.set(name, { ...input, name, typeUrl: kind.typeUrl, any, hash });
    }
    if (errors.length > 0) throw ConfigError.combine(errors);
    const types = new Map<TypeUrl, TypeEntry>();
    for (const typeUrl of PUSH_ORDER) {
      const resources = byType.get(typeUrl) ?? EMPTY;
      const digest = digestOf(resources);
      types.set(typeUrl, { version: knownVersion(typeUrl, digest) ?? version, digest, resources });
    }
    return new Snapshot(version, types);
  }

  /** The version of a type ("" for a type this snapshot does not know). */
  typeVersion(typeUrl: string): string {
    return this.types.get(typeUrl as TypeUrl)?.version ?? '';
  }

  /** A hash over the names and contents of a type's resources ("" for an unknown type). */
  typeDigest(typeUrl: string): string {
    return this.types.get(typeUrl as TypeUrl)?.digest ?? '';
  }

  /** True when both hold the same resources with the same versions. */
  sameContent(other: Snapshot): boolean {
    for (const typeUrl of PUSH_ORDER) {
      if (this.typeDigest(typeUrl) !== other.typeDigest(typeUrl) || this.typeVersion(typeUrl) !== other.typeVersion(typeUrl)) return false;
    }
    return true;
  }

  /** The resources of a type by name (empty for unknown types). */
  resources(typeUrl: string): ReadonlyMap<string, SnapshotResource> {
    return this.types.get(typeUrl as TypeUrl)?.resources ?? EMPTY;
  }

  /** Resource counts, e.g. "0 SDS, 2 CDS, 2 EDS, 1 LDS, 1 RDS". */
  summary(): string {
    return PUSH_ORDER.map((t) => `${this.resources(t).size} ${shortTypeName(t)}`).join(', ');
  }

  /** Per type: version and resource names (for the status page). */
  describe(): Record<string, { version: string; resources: string[] }> {
    const out: Record<string, { version: string; resources: string[] }> = {};
    for (const [typeUrl, entry] of this.types) {
      out[shortTypeName(typeUrl)] = { version: entry.version, resources: [...entry.resources.keys()].sort() };
    }
    return out;
  }
}

export function formatPosition(p: SourcePosition): string {
  return `${p.file}:${p.line}:${p.column}`;
}
