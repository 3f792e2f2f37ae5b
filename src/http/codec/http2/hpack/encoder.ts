/**
 * HPACK encoder (RFC 7541) for Legate's HTTP/2 client codec: turns flat
 * `name, value, …` lists (names already lower case, latin1 strings) into
 * header blocks, with a dynamic table shared by the blocks of a connection.
 *
 * Per field: an exact static or dynamic match is sent indexed; otherwise a
 * literal, with its name indexed when the name is in a table, and
 * - never indexed for `authorization`, `proxy-authorization` and `cookie`
 *   values shorter than 20 bytes (credentials; short cookies are guessable),
 * - without indexing for `:path`, `content-length` (they rarely repeat) and
 *   entries over 3/4 of the table size (they would flush it),
 * - with incremental indexing for everything else.
 */
import { huffmanEncode, huffmanEncodedLength } from './huffman.js';
import { STATIC_BY_NAME, STATIC_TABLE_LENGTH, STATIC_VALUES } from './static_table.js';

/** Our encoder never uses more dynamic table than this, whatever the peer allows. */
export const MAX_ENCODER_TABLE_SIZE = 4096;

const ENTRY_OVERHEAD = 32;
// Ring capacity: entries take at least 32 bytes, so at most 4096 / 32 fit.
const RING_SIZE = MAX_ENCODER_TABLE_SIZE / ENTRY_OVERHEAD;
const RING_MASK = RING_SIZE - 1;

// Static indices of names with a special literal representation.
const PATH = 4;
const AUTHORIZATION = 23;
const CONTENT_LENGTH = 28;
const COOKIE = 32;
const PROXY_AUTHORIZATION = 49;

// Strings shorter than this are written byte by byte (cheaper than a native call).
const LATIN1_WRITE_MIN = 16;

// Blocks are written straight into a shared pool and handed out as views of
// it, like Node's Buffer pool: cheaper than encoding into scratch and copying.
// A region is never written again once handed out.
const POOL_SIZE = 16 * 1024;
let pool = Buffer.allocUnsafeSlow(POOL_SIZE);
let poolOffset = 0;

interface FastBuffer {
  latin1Write(s: string, offset: number, length: number): number;
}

/**
 * What the encoder knows about one name: its static entries and its dynamic
 * ones, so that a field costs one name lookup.
 */
class NameInfo {
  /** Dynamic entries with this name. */
  count = 0;
  /** Insertion number of the newest of them. */
  newest = 0;
  /** Their values → insertion number (kept empty, not dropped, for static names). */
  values: Map<string, number> | null = null;

  constructor(
    /** First static index with this name, 0 if none. */
    readonly staticIndex: number,
    /** Value of the static entry when the name has exactly one. */
    readonly staticValue: string | null,
    /** value → static index when the name has several (:method, :path, :scheme, :status). */
    readonly staticValues: ReadonlyMap<string, number> | null,
  ) {}
}

export interface HpackEncoderOptions {
  /** Huffman-code strings when that saves at least 1/4 of their length (default false: raw, faster). */
  huffman?: boolean;
}

export class HpackEncoder {
  private readonly huffman: boolean;
  // Dynamic table ring; the newest entry sits just before `next`. An entry's
  // insertion number is `inserted` at the time it was added, and its dynamic
  // index is `inserted - number` (1 = newest).
  private readonly names: string[] = new Array<string>(RING_SIZE).fill('');
  private readonly values: string[] = new Array<string>(RING_SIZE).fill('');
  private next = 0;
  private count = 0;
  private inserted = 0;
  private size = 0;
  private capacity = MAX_ENCODER_TABLE_SIZE;
  private readonly byName = new Map<string, NameInfo>();
  // A size update to announce at the start of the next block, and the smallest
  // size since the last one (RFC 7541 §4.2).
  private updatePending = false;
  private minPendingSize = 0;

  constructor(options?: HpackEncoderOptions) {
    this.huffman = options?.huffman === true;
    for (const [name, st] of STATIC_BY_NAME) {
      const single = st.values.size === 1;
      this.byName.set(name, new NameInfo(st.index, single ? STATIC_VALUES[st.index] : null, single ? null : st.values));
    }
  }

  /** Bytes used by the dynamic table (sum of entry sizes). */
  get tableSize(): number {
    return this.size;
  }

  /** Current maximum size of the dynamic table. */
  get maxTableSize(): number {
    return this.capacity;
  }

  /** Number of entries in the dynamic table. */
  get tableLength(): number {
    return this.count;
  }

  /**
   * The peer's SETTINGS_HEADER_TABLE_SIZE (call on each SETTINGS carrying it).
   * The table uses min(n, 4096) and shrinks now if needed; if its size
   * changed, the next block starts with a size update (preceded by the
   * smallest size in between if that was lower, RFC 7541 §4.2).
   */
  setPeerMaxTableSize(n: number): void {
    const size = Math.min(n, MAX_ENCODER_TABLE_SIZE);
    if (size === this.capacity) return;
    this.minPendingSize = this.updatePending ? Math.min(this.minPendingSize, size) : size;
    this.updatePending = true;
    this.capacity = size;
    this.evictTo(size);
  }

  /** Encodes one header block from `name, value, …` pairs; the Buffer is the caller's to keep (never reused). */
  encode(fields: readonly string[]): Buffer {
    // Upper bound: per field 1 + 5 (index) + 5 + name + 5 + value bytes; two size updates.
    let bound = 12;
    for (let i = 0; i < fields.length; i++) bound += fields[i].length + 8;
    let buf: Buffer;
    let start: number;
    if (bound > POOL_SIZE / 4) {
      buf = Buffer.allocUnsafeSlow(bound);
      start = 0;
    } else {
      if (poolOffset + bound > POOL_SIZE) {
        pool = Buffer.allocUnsafeSlow(POOL_SIZE);
        poolOffset = 0;
      }
      buf = pool;
      start = poolOffset;
    }
    let pos = start;

    if (this.updatePending) {
      if (this.minPendingSize < this.capacity) pos = writeInt(buf, pos, this.minPendingSize, 0x1f, 0x20);
      pos = writeInt(buf, pos, this.capacity, 0x1f, 0x20);
      this.updatePending = false;
    }

    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = fields[i];
      const value = fields[i + 1];
      const info = this.byName.get(name);
      let nameIndex = 0;
      if (info !== undefined) {
        if (info.staticIndex !== 0) {
          const exact =
            info.staticValues === null
              ? value === info.staticValue
                ? info.staticIndex
                : 0
              : (info.staticValues.get(value) ?? 0);
          if (exact !== 0) {
            pos = writeInt(buf, pos, exact, 0x7f, 0x80);
            continue;
          }
          nameIndex = info.staticIndex;
        }
        if (info.count !== 0) {
          const n = info.values!.get(value);
          if (n !== undefined) {
            pos = writeInt(buf, pos, STATIC_TABLE_LENGTH + this.inserted - n, 0x7f, 0x80);
            continue;
          }
          if (nameIndex === 0) nameIndex = STATIC_TABLE_LENGTH + this.inserted - info.newest;
        }
      }

      let index = false;
      if (
        nameIndex === AUTHORIZATION ||
        nameIndex === PROXY_AUTHORIZATION ||
        (nameIndex === COOKIE && value.length < 20)
      ) {
        pos = writeInt(buf, pos, nameIndex, 0x0f, 0x10); // never indexed
      } else if (
        nameIndex === PATH ||
        nameIndex === CONTENT_LENGTH ||
        (name.length + value.length + ENTRY_OVERHEAD) * 4 > this.capacity * 3
      ) {
        pos = writeInt(buf, pos, nameIndex, 0x0f, 0x00); // without indexing
      } else {
        pos = writeInt(buf, pos, nameIndex, 0x3f, 0x40); // incremental indexing
        index = true;
      }
      if (nameIndex === 0) pos = this.writeString(buf, pos, name);
      pos = this.writeString(buf, pos, value);
      if (index) this.add(name, value);
    }

    if (buf === pool) poolOffset = pos;
    return Buffer.from(buf.buffer, buf.byteOffset + start, pos - start);
  }

  /** A string literal (§5.2), Huffman-coded if enabled and worth it. */
  private writeString(buf: Buffer, pos: number, str: string): number {
    const len = str.length;
    if (this.huffman && len >= 4) {
      const hlen = huffmanEncodedLength(str);
      if (hlen * 4 <= len * 3) {
        pos = writeInt(buf, pos, hlen, 0x7f, 0x80);
        return huffmanEncode(str, buf, pos);
      }
    }
    pos = writeInt(buf, pos, len, 0x7f, 0x00);
    if (len >= LATIN1_WRITE_MIN) {
      (buf as unknown as FastBuffer).latin1Write(str, pos, len);
    } else {
      for (let i = 0; i < len; i++) buf[pos + i] = str.charCodeAt(i);
    }
    return pos + len;
  }

  /** Inserts an entry (§4.4) after evicting room for it; the caller checked it fits. */
  private add(name: string, value: string): void {
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    this.evictTo(this.capacity - entrySize);
    const n = this.inserted++;
    this.names[this.next] = name;
    this.values[this.next] = value;
    this.next = (this.next + 1) & RING_MASK;
    this.count++;
    this.size += entrySize;
    let info = this.byName.get(name);
    if (info === undefined) {
      info = new NameInfo(0, null, null);
      this.byName.set(name, info);
    }
    if (info.values === null) info.values = new Map();
    info.count++;
    info.newest = n;
    info.values.set(value, n);
  }

  /** Evicts the oldest entries until the table uses at most `limit` bytes. */
  private evictTo(limit: number): void {
    while (this.size > limit) {
      const slot = (this.next - this.count) & RING_MASK;
      const name = this.names[slot];
      const value = this.values[slot];
      const n = this.inserted - this.count;
      this.size -= name.length + value.length + ENTRY_OVERHEAD;
      this.names[slot] = '';
      this.values[slot] = '';
      this.count--;
      const info = this.byName.get(name)!;
      info.count--;
      if (info.count === 0 && info.staticIndex === 0) this.byName.delete(name);
      else if (info.values!.get(value) === n) info.values!.delete(value);
    }
  }
}

/** Writes `value` with an N-bit prefix (`prefixMask` = 2^N - 1) after the `pattern` bits (§5.1). */
function writeInt(buf: Buffer, pos: number, value: number, prefixMask: number, pattern: number): number {
  if (value < prefixMask) {
    buf[pos++] = pattern | value;
    return pos;
  }
  buf[pos++] = pattern | prefixMask;
  value -= prefixMask;
  while (value >= 0x80) {
    buf[pos++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buf[pos++] = value;
  return pos;
}
