/**
 * Source positions for config JSON. The loader turns YAML into plain JSON
 * values and remembers, per object and array, where it and each of its
 * entries came from (file, line, column). The positions live in a WeakMap
 * keyed by the object itself, so they travel with the object when a v2 shim
 * or the `--config-yaml` merge moves it elsewhere in the tree.
 *
 * `SourcePositions.lookup(path)` answers "where is this field path?" for the
 * validators that only see the parsed proto message and its path.
 */
import type { SourcePosition } from './config_error.js';
import { parseFieldPath } from './field_path.js';

export type JsonObject = { [key: string]: JsonValue };
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;

export interface NodeLocation {
  /** Where the object or array starts. */
  self: SourcePosition;
  /** Object keys: where each key is written. */
  readonly keys: Map<string, SourcePosition>;
  /** Object values by key, or array elements by index. */
  readonly values: Map<string | number, SourcePosition>;
}

const LOCATIONS = new WeakMap<object, NodeLocation>();

export function locationOf(node: object): NodeLocation | undefined {
  return LOCATIONS.get(node);
}

/** Gives `node` a location record (starting at `self`) and returns it. */
export function locate<T extends object>(node: T, self: SourcePosition | undefined): T {
  if (self !== undefined && !LOCATIONS.has(node)) {
    LOCATIONS.set(node, { self, keys: new Map(), values: new Map() });
  }
  return node;
}

/** Where `key` of `obj` is written; falls back to the object itself. */
export function keyPosition(obj: object, key: string): SourcePosition | undefined {
  const loc = LOCATIONS.get(obj);
  return loc?.keys.get(key) ?? loc?.values.get(key) ?? loc?.self;
}

/** Where the value of `obj[key]` (or `array[index]`) is written; falls back to the key, then the container. */
export function valuePosition(container: object, key: string | number): SourcePosition | undefined {
  const loc = LOCATIONS.get(container);
  if (loc === undefined) return undefined;
  return loc.values.get(key) ?? (typeof key === 'string' ? loc.keys.get(key) : undefined) ?? loc.self;
}

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Sets `obj[key] = value`, recording where it came from (defaults to the
 * object's own position, for values a shim made up).
 */
export function setEntry(
  obj: JsonObject,
  key: string,
  value: JsonValue,
  keyPos?: SourcePosition,
  valuePos?: SourcePosition,
): void {
  obj[key] = value;
  const loc = LOCATIONS.get(obj);
  if (loc === undefined) return;
  const k = keyPos ?? loc.self;
  loc.keys.set(key, k);
  loc.values.set(key, valuePos ?? (isContainer(value) ? (LOCATIONS.get(value)?.self ?? k) : k));
}

/** Deletes `obj[key]` and its positions. */
export function deleteEntry(obj: JsonObject, key: string): void {
  delete obj[key];
  const loc = LOCATIONS.get(obj);
  loc?.keys.delete(key);
  loc?.values.delete(key);
}

/**
 * Moves `from[fromKey]` to `to[toKey]` with its positions. When `from === to`
 * the key is renamed in place, keeping the order of the other keys.
 */
export function moveEntry(from: JsonObject, fromKey: string, to: JsonObject, toKey: string): void {
  if (!(fromKey in from)) return;
  const value = from[fromKey] as JsonValue;
  const loc = LOCATIONS.get(from);
  const keyPos = loc?.keys.get(fromKey);
  const valuePos = loc?.values.get(fromKey);
  if (from === to) {
    // Rebuild so the renamed key keeps its place (sourceJson stays readable).
    const entries = Object.entries(from);
    for (const [k] of entries) delete from[k];
    for (const [k, v] of entries) {
      if (k === toKey) continue;
      from[k === fromKey ? toKey : k] = k === fromKey ? value : v;
    }
    loc?.keys.delete(fromKey);
    loc?.values.delete(fromKey);
    if (loc !== undefined) {
      if (keyPos !== undefined) loc.keys.set(toKey, keyPos);
      if (valuePos !== undefined) loc.values.set(toKey, valuePos);
    }
    return;
  }
  deleteEntry(from, fromKey);
  setEntry(to, toKey, value, keyPos, valuePos);
}

/** Copies the location record of `from` onto `to` (for objects rebuilt by a merge). */
export function copyEntryPositions(
  from: object,
  fromKey: string | number,
  to: object,
  toKey: string | number,
): void {
  const src = LOCATIONS.get(from);
  const dst = LOCATIONS.get(to);
  if (src === undefined || dst === undefined) return;
  if (typeof fromKey === 'string' && typeof toKey === 'string') {
    const k = src.keys.get(fromKey);
    if (k !== undefined) dst.keys.set(toKey, k);
  }
  const v = src.values.get(fromKey);
  if (v !== undefined) dst.values.set(toKey, v);
}

function isContainer(v: unknown): v is object {
  return typeof v === 'object' && v !== null;
}

/** Answers "where is this field path?" over a located JSON tree. */
export class SourcePositions {
  constructor(readonly root: JsonValue) {}

  /**
   * The position of `path`: its key (`prefer: 'key'`, for "this field is
   * wrong") or its value (`'value'`, for "this value is wrong"). When the path
   * does not exist in the source (a required field left out, or a default),
   * the closest existing ancestor is returned.
   */
  lookup(path: string, prefer: 'key' | 'value' = 'key'): SourcePosition | undefined {
    let node: unknown = this.root;
    let keyPos: SourcePosition | undefined = isContainer(node) ? LOCATIONS.get(node)?.self : undefined;
    let valuePos = keyPos;
    for (const seg of parseFieldPath(path)) {
      let next: unknown;
      let key: string | number;
      if (typeof seg === 'number') {
        if (!Array.isArray(node) || seg >= node.length) return keyPos; // missing: the closest ancestor's key
        key = seg;
        next = node[seg];
      } else {
        const name = typeof seg === 'string' ? seg : seg.key;
        if (!isContainer(node) || Array.isArray(node) || !(name in node)) return keyPos;
        key = name;
        next = (node as JsonObject)[name];
      }
      const loc = LOCATIONS.get(node);
      if (loc !== undefined) {
        const k = typeof key === 'string' ? loc.keys.get(key) : undefined;
        const v = loc.values.get(key);
        keyPos = k ?? v ?? keyPos;
        valuePos = v ?? k ?? valuePos;
      }
      node = next;
    }
    return prefer === 'key' ? keyPos : valuePos;
  }
}
