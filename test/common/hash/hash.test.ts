/**
 * XXH64 and MurmurHash2-64 against fixed vectors. The XXH64 vectors come from
 * the reference C library (libxxhash 0.8.1) and Envoy's test/common/common/hash_test.cc;
 * the MurmurHash2 ones from Envoy's hash_test.cc (libstdc++'s std::hash). The
 * lengths cover every code path: < 4, 4-7, 8-31 bytes, exactly 32, and
 * several 32-byte stripes with every tail size class.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { xxHash64, xxHash64String, xxHash64Strings } from '../../../src/common/hash/xxhash64.js';
import { murmurHash2String } from '../../../src/common/hash/murmur_hash2.js';

describe('xxHash64', () => {
  test('short strings (the task vectors and Envoy hash_test.cc)', () => {
    assert.equal(xxHash64String(''), 0xef46db3751d8e999n);
    assert.equal(xxHash64String('a'), 0xd24ec4f1a98c6e5bn);
    assert.equal(xxHash64String('abc'), 0x44bc2cf5ad770999n);
    assert.equal(xxHash64String('foo'), 3728699739546630719n);
    assert.equal(xxHash64String('bar'), 5234164152756840025n);
    assert.equal(xxHash64String('foo\nbar'), 8917841378505826757n);
    assert.equal(xxHash64String('lyft'), 4400747396090729504n);
    assert.equal(xxHash64String(''), 17241709254077376921n);
  });

  test('long input and a host key (libxxhash)', () => {
    assert.equal(xxHash64String('Nobody inspects the spammish repetition'), 0xfbcea83c8a378bf1n);
    assert.equal(xxHash64String('10.0.0.1:80_0'), 0x75041381e7371a08n);
    const all = Buffer.alloc(768);
    for (let i = 0; i < all.length; i++) all[i] = i & 255;
    assert.equal(xxHash64(all), 0x8e03c838c596036fn);
  });

  test('every length class around the 32-byte stripe, with and without a seed (libxxhash)', () => {
    const data = Buffer.alloc(100);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 3) & 255;
    const seed = 0x9e3779b97f4a7c15n;
    const expected: Array<[number, bigint, bigint]> = [
      [31, 0xa2aa5f33cc4a6119n, 0x755437271d1d0a84n],
      [32, 0x23c3c17ef790fd97n, 0xbf624b932c090428n],
      [33, 0x50a7cfc7ba588784n, 0x7aceaf1e9d34ea35n],
      [39, 0x880bbeea606e4b37n, 0xa5164dce04130ff3n],
      [40, 0xb620306b253d76b6n, 0x3b3666e250c83a50n],
      [63, 0x5e3e54b431c7493cn, 0x2c8ddce5c85d0d9dn],
      [64, 0x0eb64b3ef6eeb01fn, 0x4af341f14e3a6fc9n],
      [65, 0xa383b724b2bd12f1n, 0x8e9e580645400102n],
      [100, 0xa61f8d4c170fe531n, 0xf6d8f65c625abb4fn],
    ];
    for (const [n, unseeded, seeded] of expected) {
      assert.equal(xxHash64(data.subarray(0, n)), unseeded, `length ${n}`);
      assert.equal(xxHash64(data.subarray(0, n), seed), seeded, `length ${n} seeded`);
    }
  });

  test('bytes above 0x7f are hashed as bytes (latin1 strings)', () => {
    assert.equal(xxHash64String('ab\xff\x80cdefgh', 7n), 0xc7df448d0bc8cd2bn);
  });

  test('several strings chain the seed, as Envoy’s span overload (hash_test.cc)', () => {
    assert.equal(xxHash64Strings(['foo', 'bar']), 17745830980996999794n);
    assert.equal(xxHash64Strings(['foo']), xxHash64String('foo'));
    assert.notEqual(xxHash64Strings(['foo', 'bar']), xxHash64Strings(['bar', 'foo']));
  });
});

describe('murmurHash2 (64-bit, std::hash seed)', () => {
  test('Envoy hash_test.cc vectors', () => {
    assert.equal(murmurHash2String('foo'), 9631199822919835226n);
    assert.equal(murmurHash2String('bar'), 11474628671133349555n);
    assert.equal(murmurHash2String('foo\nbar'), 16306510975912980159n);
    assert.equal(murmurHash2String('lyft'), 12847078931730529320n);
    assert.equal(murmurHash2String(''), 6142509188972423790n);
  });
});
