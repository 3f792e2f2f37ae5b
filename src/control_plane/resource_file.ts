/**
 * Reads a file of Envoy-format xDS resources (YAML or JSON) into protobuf-es
 * messages, with the source position of every field for error messages. A
 * file may hold one resource or several:
 *
 *   - one resource: a mapping with `"@type"` and the resource's fields;
 *   - several YAML documents separated by `---`;
 *   - a list of resources;
 *   - a mapping with `resources: [...]`, the shape of a DiscoveryResponse (and
 *     of the files Envoy's own filesystem subscriptions read); its
 *     `version_info` and `type_url` are accepted and ignored.
 *
 * Each resource goes through the same steps as the bootstrap
 * (bootstrap_loader.ts): proto3 JSON checks with file:line:column errors,
 * `fromJson` with the type registry, then the PGV rules. Any error throws a
 * ConfigError naming the file, line, column and field path.
 */
import { fromJson } from '@bufbuild/protobuf';
import { parseAllDocuments } from 'yaml';
import { ConfigError, type ConfigWarning } from '../config/config_error.js';
import { collectViolations } from '../config/pgv_validator.js';
import { ProtoJsonChecker } from '../config/proto_json_checker.js';
import {
  deleteEntry,
  isJsonObject,
  keyPosition,
  locationOf,
  SourcePositions,
  valuePosition,
  type JsonObject,
  type JsonValue,
} from '../config/source_positions.js';
import { findMessageSchema, typeRegistry, typeUrlToName } from '../config/type_registry.js';
import { parseYamlSource } from '../config/yaml_source.js';
import { kindOfMessage, RESOURCE_KINDS } from './resource_types.js';
import type { ResourceInput } from './snapshot.js';

export interface ParsedResourceFile {
  readonly resources: ResourceInput[];
  readonly warnings: ConfigWarning[];
}

/**
 * The documents of a YAML stream, each converted with positions. The shared
 * YAML reader (yaml_source.ts) reads one document, so each document is read
 * alone, preceded by as many blank lines and spaces as stood before it, so
 * line and column numbers stay those of the file.
 */
function yamlDocuments(text: string, file: string): { values: JsonValue[]; warnings: ConfigWarning[] } {
  const docs = parseAllDocuments(text, { logLevel: 'silent' });
  const list = Array.isArray(docs) ? docs.filter((d) => d.contents !== null) : [];
  if (list.length <= 1 || list.some((d) => d.errors.length > 0)) {
    // One document, or a syntax error the shared reader reports with its position.
    const parsed = parseYamlSource(text, file);
    return { values: parsed.value === null ? [] : [parsed.value], warnings: parsed.warnings };
  }
  const values: JsonValue[] = [];
  const warnings: ConfigWarning[] = [];
  let counted = 0;
  let lines = 0;
  for (const doc of list) {
    const range = doc.contents?.range;
    if (range === undefined) continue;
    const [start, , end] = range;
    for (let i = text.indexOf('\n', counted); i !== -1 && i < start; i = text.indexOf('\n', i + 1)) lines++;
    counted = start;
    const column = start - (text.lastIndexOf('\n', start - 1) + 1);
    const alone = '\n'.repeat(lines) + ' '.repeat(column) + text.slice(start, end);
    const parsed = parseYamlSource(alone, file);
    warnings.push(...parsed.warnings);
    if (parsed.value !== null) values.push(parsed.value);
  }
  return { values, warnings };
}

const SERVED = RESOURCE_KINDS.map((k) => k.messageName.slice(k.messageName.lastIndexOf('.') + 1)).join(', ');

/** The resource mappings of one document, with where each came from. */
function resourcesOf(value: JsonValue, file: string): JsonObject[] {
  const pos = (container: object, key: string | number): ReturnType<typeof valuePosition> =>
    valuePosition(container, key) ?? locationOf(container)?.self;
  if (Array.isArray(value)) {
    return value.map((item, i) => {
      if (!isJsonObject(item)) throw new ConfigError(`[${i}]`, 'each list item must be a resource mapping with "@type"', pos(value, i) ?? { file });
      return item;
    });
  }
  if (!isJsonObject(value)) {
    throw new ConfigError('', 'expected a resource mapping with "@type", a list of resources, or a mapping with "resources: [...]"', { file });
  }
  if ('@type' in value) return [value];
  if ('resources' in value) {
    const list = value['resources'];
    if (!Array.isArray(list)) throw new ConfigError('resources', 'must be a list of resources', pos(value, 'resources') ?? { file });
    for (const key of Object.keys(value)) {
      if (key !== 'resources' && key !== 'version_info' && key !== 'type_url' && key !== 'versionInfo' && key !== 'typeUrl') {
        throw new ConfigError(key, `unknown key "${key}" next to "resources" (expected only version_info and type_url)`, keyPosition(value, key) ?? { file });
      }
    }
    return list.map((item, i) => {
      if (!isJsonObject(item)) throw new ConfigError(`resources[${i}]`, 'each resource must be a mapping with "@type"', pos(list, i) ?? { file });
      return item;
    });
  }
  throw new ConfigError('', 'missing "@type": a resource needs "@type": type.googleapis.com/<message name> (or give a list, or "resources: [...]")', locationOf(value)?.self ?? { file });
}

/**
 * Checks, parses and validates one resource mapping in proto3 JSON with an
 * `"@type"` (which is removed). `file` names the source in errors about
 * values without a recorded position. Also used for resources other sources
 * generate (services_translator.ts).
 */
export function resourceFromJson(obj: JsonObject, file: string, warnings: ConfigWarning[]): ResourceInput {
  const origin = locationOf(obj)?.self;
  const typeUrl = obj['@type'];
  if (typeof typeUrl !== 'string' || typeUrl === '') {
    throw new ConfigError('@type', 'missing "@type": a resource needs "@type": type.googleapis.com/<message name>', keyPosition(obj, '@type') ?? origin ?? { file });
  }
  const typeName = typeUrlToName(typeUrl);
  const kind = kindOfMessage(typeName);
  if (kind === undefined) {
    const known = findMessageSchema(typeName) !== undefined;
    throw new ConfigError(
      '@type',
      `${known ? `${typeName} is not a resource type this control plane serves` : `unknown type "${typeName}"`} (served: ${SERVED})`,
      valuePosition(obj, '@type') ?? origin ?? { file },
    );
  }
  deleteEntry(obj, '@type');
  const registry = typeRegistry();
  const schema = findMessageSchema(kind.messageName);
  if (schema === undefined) throw new Error(`${kind.messageName} is missing from the type registry`);
  const checker = new ProtoJsonChecker(registry, file);
  checker.check(obj, schema);
  warnings.push(...checker.warnings);
  if (checker.errors.length > 0) throw ConfigError.combine(checker.errors);
  let message;
  try {
    message = fromJson(schema, obj, { registry });
  } catch (e) {
    throw new ConfigError('', `cannot parse the ${kind.messageName}: ${(e as Error).message}`, origin ?? { file });
  }
  const positions = new SourcePositions(obj);
  const violations = collectViolations(message, '', positions);
  if (violations.length > 0) throw ConfigError.combine(violations);
  return origin !== undefined ? { message, positions, origin } : { message, positions };
}

/** Parses the text of a resource file; `file` names it in positions. */
export function parseResourceFile(text: string, file: string): ParsedResourceFile {
  const { values, warnings } = yamlDocuments(text, file);
  const resources: ResourceInput[] = [];
  for (const value of values) {
    for (const obj of resourcesOf(value, file)) resources.push(resourceFromJson(obj, file, warnings));
  }
  return { resources, warnings };
}
