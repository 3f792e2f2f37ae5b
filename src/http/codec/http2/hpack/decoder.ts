/**
 * HPACK decoder (RFC 7541) for Legate's HTTP/2 client codec: turns one complete
 * header block into flat `name, value, …` latin1 strings, keeping the dynamic
 * table shared by the blocks of a connection.
 *
 * Names and values are returned exactly as on the wire; validating them
 * (lower case, pseudo-header order, forbidden chars) is the codec's job.
 */
import { HpackError, huffmanDecode } from './huffman.js';
import { STATIC_NAMES, STATIC_TABLE_LENGTH, STATIC_VALUES } from './static_table.js';

export { HpackError } from './huffman.js';

/** RFC 7541 §4.1: an entry's size is its name and value lengths plus 32. */
export const ENTRY_OVERHEAD = 32;

// Integers above this are rejected (RFC 7541 §5.1 lets decoders bound them).
const MAX_INTEGER = 0x7fffffff;
// Continuation bytes allowed after the prefix; 5 × 7 bits cover MAX_INTEGER.
const MAX_CONTINUATION_BYTES = 5;

interface FastBuffer {
  latin1Slice(start: number, end: number): string;
}

export class HpackDecoder {
  // Dynamic table: a ring of names/values; the newest entry (index 62) sits
  // just before `next`. The capacity is a power of two and grows on demand.
  private names: string[] = new Array<string>(16).fill('');
  private values: string[] = new Array<string>(16).fill('');
  private mask = 15;
  private next = 0;
  private count = 0;
  private size = 0;
  /** Current maximum table size, as last set by the encoder (≤ maxAllowed). */
  private capacity: number;
  /** SETTINGS_HEADER_TABLE_SIZE we advertise: the limit for size updates. */
  private maxAllowed: number;
  /** When ≥ 0, the next block must start with a size update to at most this (our setting was lowered). */
  private requiredUpdate = -1;
  /** Read position in the block being decoded. */
  private pos = 0;

  constructor(maxTableSize = 4096) {
    this.capacity = maxTableSize;
    this.maxAllowed = maxTableSize;
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
   * Our SETTINGS_HEADER_TABLE_SIZE changed (call when the peer acknowledges it).
   * Lowering it below the current table size shrinks the table now and
   * requires the peer's next block to start with a size update (RFC 7541 §4.2).
   */
  setMaxTableSize(n: number): void {
    this.maxAllowed = n;
    if (n < this.capacity) {
      this.capacity = n;
      this.evictTo(n);
      this.requiredUpdate = this.requiredUpdate < 0 ? n : Math.min(this.requiredUpdate, n);
    }
  }

  /**
   * Decodes one complete header block, appending `name, value` pairs to `out`.
   * Returns the header list size (RFC 9113 §6.5.2: Σ name + value + 32).
   * Throws HpackError on a malformed block; the connection must then end
   * with COMPRESSION_ERROR, as the dynamic table is no longer in sync.
   */
  decode(block: Buffer | Uint8Array, out: string[]): number {
    const buf = (Buffer.isBuffer(block) ? block : Buffer.from(block.buffer, block.byteOffset, block.byteLength)) as Buffer;
    const end = buf.length;
    let listSize = 0;
    let fields = false;
    this.pos = 0;
    while (this.pos < end) {
      const b = buf[this.pos];
      let name: string;
      let value: string;
      if (b >= 0x80) {
        // Indexed field (§6.1).
        const index = this.readInt(buf, 0x7f);
        if (!fields) fields = this.startFields();
        if (index <= STATIC_TABLE_LENGTH) {
          if (index === 0) throw new HpackError('hpack: index 0');
          name = STATIC_NAMES[index];
          value = STATIC_VALUES[index];
        } else {
          const d = index - STATIC_TABLE_LENGTH;
          if (d > this.count) throw new HpackError('hpack: index out of range');
          const slot = (this.next - d) & this.mask;
          name = this.names[slot];
          value = this.values[slot];
        }
      } else if (b >= 0x40) {
        // Literal with incremental indexing (§6.2.1).
        if (!fields) fields = this.startFields();
        name = this.readName(buf, 0x3f);
        value = this.readString(buf);
        this.add(name, value);
      } else if (b >= 0x20) {
        // Dynamic table size update (§6.3): only before the first field.
        if (fields) throw new HpackError('hpack: table size update after a field');
        const n = this.readInt(buf, 0x1f);
        if (n > this.maxAllowed) throw new HpackError('hpack: table size update above the limit');
        if (this.requiredUpdate >= 0 && n <= this.requiredUpdate) this.requiredUpdate = -1;
        this.capacity = n;
        this.evictTo(n);
        continue;
      } else {
        // Literal without indexing (0000) or never indexed (0001) (§6.2.2, §6.2.3).
        if (!fields) fields = this.startFields();
        name = this.readName(buf, 0x0f);
        value = this.readString(buf);
      }
      out.push(name, value);
      listSize += name.length + value.length + ENTRY_OVERHEAD;
    }
    return listSize;
  }

  /** Checks, at the first field of a block, that a required size update came. */
  private startFields(): boolean {
    if (this.requiredUpdate >= 0) throw new HpackError('hpack: missing dynamic table size update');
    return true;
  }

  /** Reads an integer with an N-bit prefix (`prefixMask` = 2^N - 1) at `pos` (§5.1). */
  private readInt(buf: Buffer, prefixMask: number): number {
    const end = buf.length;
    let pos = this.pos;
    let value = buf[pos++] & prefixMask;
    if (value === prefixMask) {
      let factor = 1;
      const last = pos + MAX_CONTINUATION_BYTES;
      for (;;) {
        if (pos >= end) throw new HpackError('hpack: truncated integer');
        if (pos === last) throw new HpackError('hpack: integer too long');
        const b = buf[pos++];
        value += (b & 0x7f) * factor;
        if (b < 0x80) break;
        factor *= 128;
      }
      if (value > MAX_INTEGER) throw new HpackError('hpack: integer overflow');
    }
    this.pos = pos;
    return value;
  }

  /** Name of a literal field: an index (≠ 0) with the given prefix, or a new-name string after it. */
  private readName(buf: Buffer, prefixMask: number): string {
    const index = this.readInt(buf, prefixMask);
    if (index === 0) return this.readString(buf);
    if (index <= STATIC_TABLE_LENGTH) return STATIC_NAMES[index];
    const d = index - STATIC_TABLE_LENGTH;
    if (d > this.count) throw new HpackError('hpack: index out of range');
    return this.names[(this.next - d) & this.mask];
  }

  /** A string literal (§5.2): H bit, 7-bit prefix length, then raw or Huffman bytes. */
  private readString(buf: Buffer): string {
    if (this.pos >= buf.length) throw new HpackError('hpack: truncated field');
    const huffman = buf[this.pos] >= 0x80;
    const len = this.readInt(buf, 0x7f);
    const start = this.pos;
    const end = start + len;
    if (end > buf.length) throw new HpackError('hpack: truncated string');
    this.pos = end;
    if (len === 0) return '';
    return huffman ? huffmanDecode(buf, start, end) : (buf as unknown as FastBuffer).latin1Slice(start, end);
  }

  /** Inserts an entry (§4.4): evicts to make room; an entry larger than the table empties it. */
  private add(name: string, value: string): void {
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    if (entrySize > this.capacity) {
      this.evictTo(0);
      return;
    }
    this.evictTo(this.capacity - entrySize);
    if (this.count > this.mask) this.grow();
    this.names[this.next] = name;
    this.values[this.next] = value;
    this.next = (this.next + 1) & this.mask;
    this.count++;
    this.size += entrySize;
  }

  /** Evicts the oldest entries until the table uses at most `limit` bytes. */
  private evictTo(limit: number): void {
    while (this.size > limit) {
      const slot = (this.next - this.count) & this.mask;
      this.size -= this.names[slot].length + this.values[slot].length + ENTRY_OVERHEAD;
      this.names[slot] = '';
      this.values[slot] = '';
      this.count--;
    }
  }

  /** Doubles the ring, keeping entries in order (oldest at slot 0). */
  private grow(): void {
    const cap = this.mask + 1;
    const names = new Array<string>(cap * 2).fill('');
    const values = new Array<string>(cap * 2).fill('');
    for (let i = 0; i < this.count; i++) {
      const slot = (this.next - this.count + i) & this.mask;
      names[i] = this.names[slot];
      values[i] = this.values[slot];
    }
    this.names = names;
    this.values = values;
    this.mask = cap * 2 - 1;
    this.next = this.count;
  }
}
