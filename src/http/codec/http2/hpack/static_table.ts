/**
 * HPACK static table (RFC 7541 Appendix A) and the encoder's lookups into it.
 * Index 0 is unused so that `STATIC_NAMES[i]` is static entry i (1..61).
 */

/** Number of static entries; dynamic entries start at index STATIC_TABLE_LENGTH + 1. */
export const STATIC_TABLE_LENGTH = 61;

const ENTRIES: readonly (readonly [string, string])[] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/** Static entry names by index (1..61; [0] is ''). */
export const STATIC_NAMES: readonly string[] = ['', ...ENTRIES.map((e) => e[0])];
/** Static entry values by index (1..61; [0] is ''). */
export const STATIC_VALUES: readonly string[] = ['', ...ENTRIES.map((e) => e[1])];

/** Encoder lookup for one static name: its first index and the indices of its (name, value) entries. */
export interface StaticNameEntry {
  readonly index: number;
  readonly values: ReadonlyMap<string, number>;
}

/** name → first static index with that name, and value → index for its exact entries. */
export const STATIC_BY_NAME: ReadonlyMap<string, StaticNameEntry> = (() => {
  const byName = new Map<string, { index: number; values: Map<string, number> }>();
  for (let i = 1; i <= STATIC_TABLE_LENGTH; i++) {
    const name = STATIC_NAMES[i];
    let e = byName.get(name);
    if (e === undefined) {
      e = { index: i, values: new Map() };
      byName.set(name, e);
    }
    if (!e.values.has(STATIC_VALUES[i])) e.values.set(STATIC_VALUES[i], i);
  }
  return byName;
})();
