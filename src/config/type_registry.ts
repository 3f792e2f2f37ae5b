/**
 * The type registry: every Envoy v3, xds/udpa, googleapis and PGV message,
 * read from the prebuilt FileDescriptorSet `generated/envoy_api.binpb` (see
 * scripts/gen_protos.sh). It is what resolves an `"@type"` to a schema, the
 * counterpart of Envoy's generated descriptor pool.
 *
 * We load the descriptor set once, on first use, instead of importing the
 * generated modules (hundreds of module loads), and build descriptors only
 * for the files actually used. Code elsewhere uses `import type` from
 * src/generated for typing only.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromJson, type DescMessage, type JsonObject, type Message } from '@bufbuild/protobuf';
import { anyUnpack, type Any } from '@bufbuild/protobuf/wkt';
import { DescriptorPool } from './descriptor_pool.js';
import { ConfigError, type PositionLookup } from './config_error.js';

export const TYPE_URL_PREFIX = 'type.googleapis.com/';
export const ANY_TYPE = 'google.protobuf.Any';
export const STRUCT_TYPE = 'google.protobuf.Struct';
export const UDPA_TYPED_STRUCT = 'udpa.type.v1.TypedStruct';
export const XDS_TYPED_STRUCT = 'xds.type.v3.TypedStruct';

const DESCRIPTOR_SET = join('generated', 'envoy_api.binpb');

let registry: DescriptorPool | undefined;
let loadMs = 0;

/**
 * Finds the package root by walking up from this module until
 * `generated/envoy_api.binpb` is found: compiled code lives in
 * `dist/src/config/`, sources in `src/config/`.
 */
function descriptorSetPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, DESCRIPTOR_SET);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`cannot find ${DESCRIPTOR_SET} above ${fileURLToPath(import.meta.url)}; run scripts/gen_protos.sh`);
    }
    dir = parent;
  }
}

/**
 * The registry of all known message, enum and extension descriptors. The
 * file is read and indexed on the first call; descriptors are built as
 * types are looked up (see DescriptorPool).
 */
export function typeRegistry(): DescriptorPool {
  if (registry === undefined) {
    const start = performance.now();
    registry = new DescriptorPool(readFileSync(descriptorSetPath()));
    loadMs = performance.now() - start;
  }
  return registry;
}

/** How long reading and indexing the descriptor set took (0 until it is loaded). */
export function typeRegistryLoadMs(): number {
  return loadMs;
}

/** The schema of a message by fully-qualified name, or undefined. */
export function findMessageSchema(fullName: string): DescMessage | undefined {
  return typeRegistry().getMessage(fullName);
}

/** The schema of a message by fully-qualified name; throws when it is not in the registry. */
export function messageSchema(fullName: string): DescMessage {
  const desc = findMessageSchema(fullName);
  if (desc === undefined) throw new Error(`message type "${fullName}" is not in the type registry`);
  return desc;
}

/**
 * `type.googleapis.com/envoy.config.cluster.v3.Cluster` → `envoy.config.cluster.v3.Cluster`.
 * As Envoy's `TypeUtil::typeUrlToDescriptorFullName`, everything up to the last `/` is dropped.
 */
export function typeUrlToName(typeUrl: string): string {
  const slash = typeUrl.lastIndexOf('/');
  return slash < 0 ? typeUrl : typeUrl.slice(slash + 1);
}

export function nameToTypeUrl(fullName: string): string {
  return TYPE_URL_PREFIX + fullName;
}

export function isTypedStruct(fullName: string): boolean {
  return fullName === UDPA_TYPED_STRUCT || fullName === XDS_TYPED_STRUCT;
}

interface TypedStructShape {
  typeUrl: string;
  value?: JsonObject;
}

/**
 * The type an Any really configures: its own type, or for a TypedStruct
 * the type named by its `type_url`. Empty for an empty Any.
 */
export function effectiveTypeName(any: Any): string {
  const name = typeUrlToName(any.typeUrl);
  if (!isTypedStruct(name)) return name;
  const ts = anyUnpack(any, typeRegistry()) as unknown as TypedStructShape | undefined;
  return ts === undefined ? name : typeUrlToName(ts.typeUrl);
}

/**
 * Unpacks an `Any` into its message. A `udpa.type.v1.TypedStruct` or
 * `xds.type.v3.TypedStruct` is unwrapped: its `value` (a Struct, i.e. plain
 * JSON) is parsed as the message named by its `type_url`, as Envoy's
 * `translateOpaqueConfig` does. Throws a ConfigError naming `path` when the
 * type is unknown or the content does not parse.
 */
export function unpackAny(any: Any, path: string, positions?: PositionLookup): Message {
  const reg = typeRegistry();
  const where = positions?.lookup(path);
  if (any.typeUrl === '') throw new ConfigError(path, 'the Any is empty (no "@type")', where);
  const name = typeUrlToName(any.typeUrl);
  const schema = reg.getMessage(name);
  if (schema === undefined) {
    throw new ConfigError(path, `unknown type "${name}" (type URL "${any.typeUrl}" is not in Envoy's v3 API)`, where);
  }
  let msg: Message | undefined;
  try {
    msg = anyUnpack(any, reg);
  } catch (e) {
    throw new ConfigError(path, `cannot decode ${name}: ${(e as Error).message}`, where);
  }
  if (msg === undefined) throw new ConfigError(path, `cannot decode ${name}`, where);
  if (!isTypedStruct(name)) return msg;
  const ts = msg as unknown as TypedStructShape;
  const innerName = typeUrlToName(ts.typeUrl);
  if (innerName === '') throw new ConfigError(path, `${name} has no type_url`, where);
  const inner = reg.getMessage(innerName);
  if (inner === undefined) {
    throw new ConfigError(path, `unknown type "${innerName}" in ${name}.type_url "${ts.typeUrl}"`, where);
  }
  try {
    return fromJson(inner, ts.value ?? {}, { registry: reg });
  } catch (e) {
    throw new ConfigError(`${path}.value`, `cannot parse ${name} value as ${innerName}: ${(e as Error).message}`, where);
  }
}
