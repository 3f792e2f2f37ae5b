/**
 * 64-bit MurmurHash2 as libstdc++'s `_Hash_bytes` computes it (what
 * `std::hash<std::string>` was), after Envoy's `MurmurHash::murmurHash2`
 * (source/common/common/hash.cc). Ring hash uses it with
 * `hash_function: MURMUR_HASH_2`, seeded with `STD_HASH_SEED`, for rings
 * compatible with older Envoys. Little-endian loads; BigInt truncated to 64 bits.
 */

const MASK = 0xffffffffffffffffn;
const MUL = 0xc6a4a7935bd1e995n;

/** libstdc++'s seed for std::hash (Envoy's `MurmurHash::STD_HASH_SEED`). */
export const STD_HASH_SEED = 0xc70f6907n;

function shiftMix(v: bigint): bigint {
  return v ^ (v >> 47n);
}

/** Little-endian value of `n` bytes from `b[i]`. */
function loadBytes(b: Uint8Array, i: number, n: number): bigint {
  let r = 0n;
  for (let k = n - 1; k >= 0; k--) r = (r << 8n) | BigInt(b[i + k]);
  return r;
}

export function murmurHash2(input: Uint8Array, seed: bigint = STD_HASH_SEED): bigint {
  const len = input.length;
  const aligned = len & ~7;
  let hash = (seed ^ (BigInt(len) * MUL)) & MASK;
  for (let i = 0; i < aligned; i += 8) {
    const data = (shiftMix((loadBytes(input, i, 8) * MUL) & MASK) * MUL) & MASK;
    hash ^= data;
    hash = (hash * MUL) & MASK;
  }
  if ((len & 7) !== 0) {
    hash ^= loadBytes(input, aligned, len & 7);
    hash = (hash * MUL) & MASK;
  }
  hash = (shiftMix(hash) * MUL) & MASK;
  return shiftMix(hash);
}

/** MurmurHash2-64 of a string's latin1 bytes. */
export function murmurHash2String(s: string, seed: bigint = STD_HASH_SEED): bigint {
  return murmurHash2(Buffer.from(s, 'latin1'), seed);
}
