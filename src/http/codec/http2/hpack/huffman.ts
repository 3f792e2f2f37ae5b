/**
 * HPACK Huffman code (RFC 7541 Appendix B): encoder, and a decoder driven by a
 * nibble-at-a-time state machine built from the code at module load (the
 * approach of nghttp2's huffman decode table).
 *
 * Strings are latin1: one char per byte (chars above 0xff keep their low byte,
 * as Buffer#latin1Write does).
 */

/** A malformed header block; the HTTP/2 connection answers with COMPRESSION_ERROR. */
export class HpackError extends Error {
  override name = 'HpackError';
}

// Codes (MSB-first) and bit lengths of symbols 0..255; symbol 256 is EOS.
const CODES = new Uint32Array([
  0x1ff8, 0x7fffd8, 0xfffffe2, 0xfffffe3, 0xfffffe4, 0xfffffe5, 0xfffffe6, 0xfffffe7, 0xfffffe8, 0xffffea, 0x3ffffffc,
  0xfffffe9, 0xfffffea, 0x3ffffffd, 0xfffffeb, 0xfffffec, 0xfffffed, 0xfffffee, 0xfffffef, 0xffffff0, 0xffffff1,
  0xffffff2, 0x3ffffffe, 0xffffff3, 0xffffff4, 0xffffff5, 0xffffff6, 0xffffff7, 0xffffff8, 0xffffff9, 0xffffffa,
  0xffffffb, 0x14, 0x3f8, 0x3f9, 0xffa, 0x1ff9, 0x15, 0xf8, 0x7fa, 0x3fa, 0x3fb, 0xf9, 0x7fb, 0xfa, 0x16, 0x17, 0x18,
  0x0, 0x1, 0x2, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x5c, 0xfb, 0x7ffc, 0x20, 0xffb, 0x3fc, 0x1ffa, 0x21, 0x5d,
  0x5e, 0x5f, 0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70,
  0x71, 0x72, 0xfc, 0x73, 0xfd, 0x1ffb, 0x7fff0, 0x1ffc, 0x3ffc, 0x22, 0x7ffd, 0x3, 0x23, 0x4, 0x24, 0x5, 0x25, 0x26,
  0x27, 0x6, 0x74, 0x75, 0x28, 0x29, 0x2a, 0x7, 0x2b, 0x76, 0x2c, 0x8, 0x9, 0x2d, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7ffe,
  0x7fc, 0x3ffd, 0x1ffd, 0xffffffc, 0xfffe6, 0x3fffd2, 0xfffe7, 0xfffe8, 0x3fffd3, 0x3fffd4, 0x3fffd5, 0x7fffd9,
  0x3fffd6, 0x7fffda, 0x7fffdb, 0x7fffdc, 0x7fffdd, 0x7fffde, 0xffffeb, 0x7fffdf, 0xffffec, 0xffffed, 0x3fffd7,
  0x7fffe0, 0xffffee, 0x7fffe1, 0x7fffe2, 0x7fffe3, 0x7fffe4, 0x1fffdc, 0x3fffd8, 0x7fffe5, 0x3fffd9, 0x7fffe6,
  0x7fffe7, 0xffffef, 0x3fffda, 0x1fffdd, 0xfffe9, 0x3fffdb, 0x3fffdc, 0x7fffe8, 0x7fffe9, 0x1fffde, 0x7fffea,
  0x3fffdd, 0x3fffde, 0xfffff0, 0x1fffdf, 0x3fffdf, 0x7fffeb, 0x7fffec, 0x1fffe0, 0x1fffe1, 0x3fffe0, 0x1fffe2,
  0x7fffed, 0x3fffe1, 0x7fffee, 0x7fffef, 0xfffea, 0x3fffe2, 0x3fffe3, 0x3fffe4, 0x7ffff0, 0x3fffe5, 0x3fffe6,
  0x7ffff1, 0x3ffffe0, 0x3ffffe1, 0xfffeb, 0x7fff1, 0x3fffe7, 0x7ffff2, 0x3fffe8, 0x1ffffec, 0x3ffffe2, 0x3ffffe3,
  0x3ffffe4, 0x7ffffde, 0x7ffffdf, 0x3ffffe5, 0xfffff1, 0x1ffffed, 0x7fff2, 0x1fffe3, 0x3ffffe6, 0x7ffffe0, 0x7ffffe1,
  0x3ffffe7, 0x7ffffe2, 0xfffff2, 0x1fffe4, 0x1fffe5, 0x3ffffe8, 0x3ffffe9, 0xffffffd, 0x7ffffe3, 0x7ffffe4,
  0x7ffffe5, 0xfffec, 0xfffff3, 0xfffed, 0x1fffe6, 0x3fffe9, 0x1fffe7, 0x1fffe8, 0x7ffff3, 0x3fffea, 0x3fffeb,
  0x1ffffee, 0x1ffffef, 0xfffff4, 0xfffff5, 0x3ffffea, 0x7ffff4, 0x3ffffeb, 0x7ffffe6, 0x3ffffec, 0x3ffffed,
  0x7ffffe7, 0x7ffffe8, 0x7ffffe9, 0x7ffffea, 0x7ffffeb, 0xffffffe, 0x7ffffec, 0x7ffffed, 0x7ffffee, 0x7ffffef,
  0x7fffff0, 0x3ffffee,
  0x3fffffff, // EOS
]);
const LENGTHS = new Uint8Array([
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28,
  28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13,
  6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6,
  6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22,
  23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22, 23,
  23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, 26, 26, 20,
  19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27,
  27, 27, 26,
  30, // EOS
]);

/** The EOS symbol. */
export const HUFFMAN_EOS = 256;

/** Code and bit length of symbol `sym` (0..256), for tests and tools. */
export function huffmanCode(sym: number): { code: number; bits: number } {
  return { code: CODES[sym], bits: LENGTHS[sym] };
}

// Decode state machine. A state is an internal node of the code tree (the root
// is state 0; a complete tree over 257 symbols has exactly 256 internal nodes).
// DECODE[state << 4 | nibble] packs: next state (bits 0-7), emitted symbol
// (bits 8-15, valid if EMIT), and the flags below.
const EMIT = 1 << 16;
/** The bits since the last symbol are a valid padding: at most 7 bits, all 1 (a prefix of EOS). */
const ACCEPT = 1 << 17;
/** The nibble completes EOS, which must not appear in a string. */
const FAIL = 1 << 18;

const DECODE: Uint32Array = (() => {
  // Tree: child >= 0 is an internal node, child < 0 is leaf -(symbol + 1).
  const zero = new Int16Array(256);
  const one = new Int16Array(256);
  const depth = new Uint8Array(256);
  const allOnes = new Uint8Array(256);
  allOnes[0] = 1;
  let nodes = 1;
  for (let sym = 0; sym <= HUFFMAN_EOS; sym++) {
    const code = CODES[sym];
    const len = LENGTHS[sym];
    let node = 0;
    for (let i = len - 1; i >= 0; i--) {
      const bit = (code >>> i) & 1;
      const children = bit === 1 ? one : zero;
      if (i === 0) {
        if (children[node] !== 0) throw new Error('huffman: code is not prefix-free');
        children[node] = -(sym + 1);
      } else if (children[node] === 0) {
        if (nodes === 256) throw new Error('huffman: too many tree nodes');
        const child = nodes++;
        depth[child] = depth[node] + 1;
        allOnes[child] = allOnes[node] & bit;
        children[node] = child;
        node = child;
      } else if (children[node] < 0) {
        throw new Error('huffman: code is not prefix-free');
      } else {
        node = children[node];
      }
    }
  }
  if (nodes !== 256) throw new Error('huffman: code is not complete');

  const table = new Uint32Array(256 * 16);
  for (let state = 0; state < 256; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let entry = 0;
      for (let i = 3; i >= 0; i--) {
        const child = ((nibble >>> i) & 1) === 1 ? one[node] : zero[node];
        if (child < 0) {
          const sym = -child - 1;
          // Codes are at least 5 bits long, so a nibble completes at most one symbol.
          entry = sym === HUFFMAN_EOS ? FAIL : EMIT | (sym << 8);
          node = 0;
        } else {
          node = child;
        }
      }
      if (allOnes[node] === 1 && depth[node] <= 7) entry |= ACCEPT;
      table[(state << 4) | nibble] = entry | node;
    }
  }
  return table;
})();

interface FastBuffer {
  latin1Slice(start: number, end: number): string;
}

// Decode output; a symbol takes at least 5 bits, so n input bytes give at most 8n/5 chars.
let scratch = Buffer.allocUnsafe(1024);

/** Decodes the Huffman string in `buf[start, end)` to a latin1 string; throws HpackError if it is malformed. */
export function huffmanDecode(buf: Uint8Array, start: number, end: number): string {
  const maxOut = (((end - start) * 8) / 5) | 0;
  if (maxOut > scratch.length) scratch = Buffer.allocUnsafe(Math.max(maxOut, scratch.length * 2));
  const out = scratch;
  let n = 0;
  let state = 0;
  let entry = ACCEPT;
  for (let i = start; i < end; i++) {
    const b = buf[i];
    entry = DECODE[(state << 4) | (b >>> 4)];
    if ((entry & (EMIT | FAIL)) !== 0) {
      if ((entry & FAIL) !== 0) throw new HpackError('huffman: EOS in string');
      out[n++] = entry >>> 8;
    }
    entry = DECODE[((entry & 0xff) << 4) | (b & 0xf)];
    if ((entry & (EMIT | FAIL)) !== 0) {
      if ((entry & FAIL) !== 0) throw new HpackError('huffman: EOS in string');
      out[n++] = entry >>> 8;
    }
    state = entry & 0xff;
  }
  if ((entry & ACCEPT) === 0) throw new HpackError('huffman: invalid padding');
  return n === 0 ? '' : (out as unknown as FastBuffer).latin1Slice(0, n);
}

/** Length in bytes of `str` Huffman-encoded. */
export function huffmanEncodedLength(str: string): number {
  let bits = 0;
  for (let i = 0; i < str.length; i++) bits += LENGTHS[str.charCodeAt(i) & 0xff];
  return (bits + 7) >>> 3;
}

/**
 * Writes `str` Huffman-encoded into `out` at `offset` (room for
 * huffmanEncodedLength(str) bytes is the caller's business); returns the end offset.
 */
export function huffmanEncode(str: string, out: Uint8Array, offset: number): number {
  let pos = offset;
  // acc holds `bits` (< 8 between symbols) not yet written bits; it stays below
  // 2^31 because codes longer than 24 bits go in two parts.
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < str.length; i++) {
    const sym = str.charCodeAt(i) & 0xff;
    const code = CODES[sym];
    const len = LENGTHS[sym];
    if (len > 24) {
      acc = (acc << (len - 16)) | (code >>> 16);
      bits += len - 16;
      while (bits >= 8) {
        bits -= 8;
        out[pos++] = acc >>> bits;
      }
      acc = ((acc & ((1 << bits) - 1)) << 16) | (code & 0xffff);
      bits += 16;
    } else {
      acc = (acc << len) | code;
      bits += len;
    }
    while (bits >= 8) {
      bits -= 8;
      out[pos++] = acc >>> bits;
    }
    acc &= (1 << bits) - 1;
  }
  // Pad with the most significant bits of EOS (all 1).
  if (bits > 0) out[pos++] = (acc << (8 - bits)) | (0xff >>> bits);
  return pos;
}
