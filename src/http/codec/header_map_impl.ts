/**
 * HeaderMapImpl: the ordered multimap behind every request and response.
 * Two parallel arrays keep insertion order and make the common operations
 * (get of a handful of names on maps of 5-30 entries) a short linear scan with
 * no allocation, which is faster in V8 than a Map of arrays at these sizes.
 */
import type { HeaderMap } from '../../envoy/http/header_map.js';

export class HeaderMapImpl implements HeaderMap {
  private names: string[];
  private values: string[];

  constructor(names?: string[], values?: string[]) {
    this.names = names ?? [];
    this.values = values ?? [];
  }

  /** Builds a map from [name, value] pairs; names are lower-cased. */
  static fromPairs(pairs: ReadonlyArray<readonly [string, string]>): HeaderMapImpl {
    const m = new HeaderMapImpl();
    for (const [n, v] of pairs) m.add(n.toLowerCase(), v);
    return m;
  }

  get size(): number { return this.names.length; }

  get(name: string): string | undefined {
    const names = this.names;
    for (let i = 0; i < names.length; i++) if (names[i] === name) return this.values[i];
    return undefined;
  }

  getAll(name: string): string[] {
    const out: string[] = [];
    const names = this.names;
    for (let i = 0; i < names.length; i++) if (names[i] === name) out.push(this.values[i]!);
    return out;
  }

  has(name: string): boolean {
    return this.names.indexOf(name) !== -1;
  }

  set(name: string, value: string): void {
    const names = this.names;
    let found = -1;
    for (let i = 0; i < names.length; i++) {
      if (names[i] === name) {
        if (found === -1) { found = i; this.values[i] = value; }
        else { names.splice(i, 1); this.values.splice(i, 1); i--; }
      }
    }
    if (found === -1) this.add(name, value);
  }

  add(name: string, value: string): void {
    // Pseudo headers stay ahead of regular ones, as HTTP/2 requires.
    if (name.charCodeAt(0) === 58 /* : */) {
      let i = 0;
      while (i < this.names.length && this.names[i]!.charCodeAt(0) === 58) i++;
      if (i < this.names.length) {
        this.names.splice(i, 0, name);
        this.values.splice(i, 0, value);
        return;
      }
    }
    this.names.push(name);
    this.values.push(value);
  }

  remove(name: string): number {
    let removed = 0;
    const names = this.names;
    for (let i = names.length - 1; i >= 0; i--) {
      if (names[i] === name) { names.splice(i, 1); this.values.splice(i, 1); removed++; }
    }
    return removed;
  }

  removePrefix(prefix: string): void {
    const names = this.names;
    for (let i = names.length - 1; i >= 0; i--) {
      if (names[i]!.startsWith(prefix)) { names.splice(i, 1); this.values.splice(i, 1); }
    }
  }

  forEach(cb: (name: string, value: string) => void): void {
    const names = this.names, values = this.values;
    for (let i = 0; i < names.length; i++) cb(names[i]!, values[i]!);
  }

  byteSize(): number {
    let n = 0;
    const names = this.names, values = this.values;
    for (let i = 0; i < names.length; i++) n += names[i]!.length + values[i]!.length + 4;
    return n;
  }

  clone(): HeaderMapImpl {
    return new HeaderMapImpl(this.names.slice(), this.values.slice());
  }

  /** Direct read access for codecs that serialise the map (no copy). */
  rawNames(): readonly string[] { return this.names; }
  rawValues(): readonly string[] { return this.values; }
}
