/**
 * The limits file of Legate's Rate Limit Service, in the format of
 * envoyproxy/ratelimit's config files:
 *
 *   domain: edge
 *   descriptors:
 *   - key: generic_key
 *     value: api                         # optional: without it, any value (per value counters)
 *     rate_limit: { unit: minute, requests_per_unit: 100, name: api-per-minute }
 *     descriptors:                       # nested: longer descriptors
 *     - key: remote_address
 *       rate_limit: { unit: second, requests_per_unit: 5 }
 *   - key: client
 *     value: internal
 *     rate_limit: { unlimited: true }
 *     shadow_mode: true                  # counted and reported, never OVER_LIMIT
 *
 * Units: second, minute, hour, day (and month, year), any case. Every problem
 * is a ConfigError with file:line:column and the field path.
 */
import { ConfigError } from '../config/config_error.js';
import { isJsonObject, valuePosition, keyPosition, type JsonObject, type JsonValue } from '../config/source_positions.js';
import { parseYamlSource } from '../config/yaml_source.js';

/** RateLimitResponse.RateLimit.Unit numbers, with their length in seconds. */
export const UNITS: Readonly<Record<string, { readonly code: number; readonly seconds: number }>> = {
  second: { code: 1, seconds: 1 },
  minute: { code: 2, seconds: 60 },
  hour: { code: 3, seconds: 3600 },
  day: { code: 4, seconds: 86_400 },
  month: { code: 5, seconds: 2_592_000 },
  year: { code: 6, seconds: 31_536_000 },
};

export interface RateLimitRule {
  /** Unit name (second, minute...). */
  readonly unit: string;
  readonly unitCode: number;
  readonly unitSeconds: number;
  readonly requestsPerUnit: number;
  readonly name: string;
  readonly unlimited: boolean;
}

export interface DescriptorNode {
  readonly key: string;
  /** '' matches any value. */
  readonly value: string;
  readonly rateLimit: RateLimitRule | null;
  readonly shadowMode: boolean;
  /** Children by `key_value` (exact) and `key` (any value), as envoyproxy/ratelimit's map. */
  readonly children: ReadonlyMap<string, DescriptorNode>;
}

export interface DomainLimits {
  readonly domain: string;
  readonly file: string;
  readonly descriptors: ReadonlyMap<string, DescriptorNode>;
}

/** The map key of a node: `key_value`, or `key` for any value. */
export function nodeKey(key: string, value: string): string {
  return value.length > 0 ? `${key}_${value}` : key;
}

function describe(v: JsonValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'a map' : `${typeof v} ${JSON.stringify(v)}`;
}

class Reader {
  constructor(readonly file: string) {}

  fail(container: object, key: string | number | undefined, path: string, detail: string): never {
    const pos = key === undefined ? undefined : valuePosition(container, key) ?? (typeof key === 'string' ? keyPosition(container, key) : undefined);
    throw new ConfigError(path, detail, pos ?? { file: this.file });
  }

  object(container: object, key: string | number, path: string, allowed: readonly string[]): JsonObject {
    const v = (container as Record<string | number, JsonValue>)[key];
    if (!isJsonObject(v)) this.fail(container, key, path, `expected a map, got ${describe(v)}`);
    for (const k of Object.keys(v)) {
      if (!allowed.includes(k)) this.fail(v, k, `${path}.${k}`, `unknown field "${k}" (known: ${allowed.join(', ')})`);
    }
    return v;
  }

  string(obj: JsonObject, key: string, path: string, required: boolean): string {
    const v = obj[key];
    if (v === undefined || v === null) {
      if (required) this.fail(obj, undefined, path, `${key} is required`);
      return '';
    }
    if (typeof v !== 'string' && typeof v !== 'number') this.fail(obj, key, path, `expected a string, got ${describe(v)}`);
    return String(v);
  }

  bool(obj: JsonObject, key: string, path: string): boolean {
    const v = obj[key];
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') this.fail(obj, key, path, `expected true or false, got ${describe(v)}`);
    return v;
  }
}

function parseRateLimit(r: Reader, obj: JsonObject, path: string): RateLimitRule {
  const rl = r.object(obj, 'rate_limit', path, ['unit', 'requests_per_unit', 'name', 'unlimited']);
  const unlimited = r.bool(rl, 'unlimited', `${path}.unlimited`);
  const name = r.string(rl, 'name', `${path}.name`, false);
  if (unlimited) {
    if (rl['unit'] !== undefined || rl['requests_per_unit'] !== undefined) {
      r.fail(rl, 'unlimited', path, 'an unlimited rate_limit has no unit or requests_per_unit');
    }
    return { unit: '', unitCode: 0, unitSeconds: 0, requestsPerUnit: 0, name, unlimited: true };
  }
  const unitText = r.string(rl, 'unit', `${path}.unit`, true);
  const unit = UNITS[unitText.toLowerCase()];
  if (unit === undefined) {
    r.fail(rl, 'unit', `${path}.unit`, `unknown unit "${unitText}" (expected one of: ${Object.keys(UNITS).join(', ')})`);
  }
  const rpu = rl['requests_per_unit'];
  if (rpu === undefined) r.fail(rl, undefined, `${path}.requests_per_unit`, 'requests_per_unit is required');
  if (typeof rpu !== 'number' || !Number.isInteger(rpu) || rpu < 0 || rpu > 0xffffffff) {
    r.fail(rl, 'requests_per_unit', `${path}.requests_per_unit`, `expected a whole number from 0 to 4294967295, got ${describe(rpu)}`);
  }
  return { unit: unitText.toLowerCase(), unitCode: unit.code, unitSeconds: unit.seconds, requestsPerUnit: rpu, name, unlimited: false };
}

function parseDescriptors(r: Reader, container: JsonObject, path: string): Map<string, DescriptorNode> {
  const out = new Map<string, DescriptorNode>();
  const list = container['descriptors'];
  if (list === undefined || list === null) return out;
  if (!Array.isArray(list)) r.fail(container, 'descriptors', path, `expected a list of descriptors, got ${describe(list)}`);
  list.forEach((_, i) => {
    const p = `${path}[${i}]`;
    const d = r.object(list, i, p, ['key', 'value', 'rate_limit', 'descriptors', 'shadow_mode']);
    const key = r.string(d, 'key', `${p}.key`, true);
    if (key.length === 0) r.fail(d, 'key', `${p}.key`, 'key must not be empty');
    const value = r.string(d, 'value', `${p}.value`, false);
    const k = nodeKey(key, value);
    if (out.has(k)) {
      r.fail(d, 'key', p, `duplicate descriptor ${value.length > 0 ? `${key}=${value}` : key} (also at an earlier index)`);
    }
    out.set(k, {
      key,
      value,
      rateLimit: d['rate_limit'] === undefined ? null : parseRateLimit(r, d, `${p}.rate_limit`),
      shadowMode: r.bool(d, 'shadow_mode', `${p}.shadow_mode`),
      children: parseDescriptors(r, d, `${p}.descriptors`),
    });
  });
  return out;
}

/** Parses one limits file (YAML or JSON); throws ConfigError. */
export function parseLimitsConfig(text: string, file: string): DomainLimits {
  const r = new Reader(file);
  const root = parseYamlSource(text, file).value;
  const holder = { root };
  const doc = r.object(holder, 'root', '', ['domain', 'descriptors']);
  const domain = r.string(doc, 'domain', 'domain', true);
  if (domain.length === 0) r.fail(doc, 'domain', 'domain', 'domain must not be empty');
  return { domain, file, descriptors: parseDescriptors(r, doc, 'descriptors') };
}
