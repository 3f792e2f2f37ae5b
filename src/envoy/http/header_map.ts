/**
 * HeaderMap: an ordered multimap of lower-cased header names to values, as in
 * Envoy's `envoy/http/header_map.h`. Pseudo headers (`:method`, `:path`,
 * `:authority`, `:scheme`, `:status`, `:protocol`) live in the same map, first,
 * so route matchers and access-log operators treat them like any other header.
 *
 * HTTP/1 codecs translate `Host` to `:authority` on decode and back on encode.
 * Names must be lower case when they go in; values are stored as given.
 */
export interface HeaderMap {
  /** First value of `name`, or undefined. */
  get(name: string): string | undefined;
  /** Every value of `name`, in order (empty array when absent). */
  getAll(name: string): string[];
  has(name: string): boolean;
  /** Replaces every value of `name` with one value (appends when absent). */
  set(name: string, value: string): void;
  /** Appends one more value of `name`. */
  add(name: string, value: string): void;
  /** Removes every value of `name`; returns how many were removed. */
  remove(name: string): number;
  /** Removes every header whose name starts with `prefix`. */
  removePrefix(prefix: string): void;
  /** Calls `cb` for each entry in order. */
  forEach(cb: (name: string, value: string) => void): void;
  /** Number of entries. */
  readonly size: number;
  /** Approximate wire size in bytes (names + values + separators), for limits. */
  byteSize(): number;
  /** A deep copy (for retries and shadowing). */
  clone(): HeaderMap;
}

export type RequestHeaderMap = HeaderMap;
export type ResponseHeaderMap = HeaderMap;
export type RequestTrailerMap = HeaderMap;
export type ResponseTrailerMap = HeaderMap;
