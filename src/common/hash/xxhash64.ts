/**
 * XXH64, the 64-bit xxHash (https://github.com/Cyan4973/xxHash, spec in
 * doc/xxhash_spec.md), which Envoy's `HashUtil::xxHash64` wraps
 * (source/common/common/hash.h). Ring hash and Maglev place hosts with it and
 * route `hash_policy` hashes request values with it, so the results must be
 * bit-exact: the same key reaches the same host as in Envoy.
 *
 * Arithmetic is on BigInt truncated to 64 bits. Inputs are bytes; strings are
 * taken as latin1 (one byte per char), which is how header values are held.
 */

const MASK = 0xffffffffffffffffn;
const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;

function rotl(v: bigint, r: bigint): bigint {
  return ((v << r) | (v >> (64n - r))) & MASK;
}

function round(acc: bigint, lane: bigint): bigint {
  acc = (acc + lane * P2) & MASK;
  return (rotl(acc, 31n) * P1) & MASK;
}

function mergeRound(acc: bigint, v: bigint): bigint {
  acc ^= round(0n, v);
  return (acc * P1 + P4) & MASK;
}

function lane64(b: Uint8Array, i: number): bigint {
  const lo = (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
  const hi = (b[i + 4] | (b[i + 5] << 8) | (b[i + 6] << 16) | (b[i + 7] << 24)) >>> 0;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

function lane32(b: Uint8Array, i: number): bigint {
  return BigInt((b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0);
}

/** XXH64 of `input` with `seed` (a uint64, default 0). */
export function xxHash64(input: Uint8Array, seed: bigint = 0n): bigint {
  const len = input.length;
  seed &= MASK;
  let i = 0;
  let h: bigint;
  if (len >= 32) {
    let v1 = (seed + P1 + P2) & MASK;
    let v2 = (seed + P2) & MASK;
    let v3 = seed;
    let v4 = (seed - P1) & MASK;
    const limit = len - 32;
    while (i <= limit) {
      v1 = round(v1, lane64(input, i));
      v2 = round(v2, lane64(input, i + 8));
      v3 = round(v3, lane64(input, i + 16));
      v4 = round(v4, lane64(input, i + 24));
      i += 32;
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & MASK;
    h = mergeRound(h, v1);
    h = mergeRound(h, v2);
    h = mergeRound(h, v3);
    h = mergeRound(h, v4);
  } else {
    h = (seed + P5) & MASK;
  }
  h = (h + BigInt(len)) & MASK;
  while (i + 8 <= len) {
    h ^= round(0n, lane64(input, i));
    h = (rotl(h, 27n) * P1 + P4) & MASK;
    i += 8;
  }
  if (i + 4 <= len) {
    h ^= (lane32(input, i) * P1) & MASK;
    h = (rotl(h, 23n) * P2 + P3) & MASK;
    i += 4;
  }
  while (i < len) {
    h ^= (BigInt(input[i]) * P5) & MASK;
    h = (rotl(h, 11n) * P1) & MASK;
    i++;
  }
  h ^= h >> 33n;
  h = (h * P2) & MASK;
  h ^= h >> 29n;
  h = (h * P3) & MASK;
  h ^= h >> 32n;
  return h;
}

/** XXH64 of a string's latin1 bytes. */
export function xxHash64String(s: string, seed: bigint = 0n): bigint {
  return xxHash64(Buffer.from(s, 'latin1'), seed);
}

/**
 * XXH64 of several strings, each hashed with the previous result as its seed
 * (Envoy's `HashUtil::xxHash64(absl::Span<absl::string_view>, seed)`); one
 * string gives the same as `xxHash64String`.
 */
export function xxHash64Strings(parts: ReadonlyArray<string>, seed: bigint = 0n): bigint {
  let h = seed;
  for (const p of parts) h = xxHash64String(p, h);
  return h;
}
