import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { HpackDecoder, HpackError } from '../../../../src/http/codec/http2/hpack/decoder.js';
import { HpackEncoder } from '../../../../src/http/codec/http2/hpack/encoder.js';
import {
  HUFFMAN_EOS,
  huffmanCode,
  huffmanDecode,
  huffmanEncode,
  huffmanEncodedLength,
} from '../../../../src/http/codec/http2/hpack/huffman.js';
import { STATIC_BY_NAME, STATIC_NAMES, STATIC_TABLE_LENGTH, STATIC_VALUES } from '../../../../src/http/codec/http2/hpack/static_table.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i], flat[i + 1]]);
  return out;
}

function decodePairs(dec: HpackDecoder, block: Buffer): [string, string][] {
  const out: string[] = [];
  dec.decode(block, out);
  return pairs(out);
}

function huffman(str: string): Buffer {
  const out = Buffer.alloc(huffmanEncodedLength(str));
  assert.equal(huffmanEncode(str, out, 0), out.length);
  return out;
}

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomLatin1(rand: () => number, len: number): string {
  let s = '';
  for (let i = 0; i < len; i++) s += String.fromCharCode((rand() * 256) | 0);
  return s;
}

// RFC 7541 Appendix C request/response fields.
const REQ1: [string, string][] = [
  [':method', 'GET'],
  [':scheme', 'http'],
  [':path', '/'],
  [':authority', 'www.example.com'],
];
const REQ2: [string, string][] = [...REQ1, ['cache-control', 'no-cache']];
const REQ3: [string, string][] = [
  [':method', 'GET'],
  [':scheme', 'https'],
  [':path', '/index.html'],
  [':authority', 'www.example.com'],
  ['custom-key', 'custom-value'],
];
const RESP1: [string, string][] = [
  [':status', '302'],
  ['cache-control', 'private'],
  ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
  ['location', 'https://www.example.com'],
];
const RESP2: [string, string][] = [[':status', '307'], ...RESP1.slice(1)];
const RESP3: [string, string][] = [
  [':status', '200'],
  ['cache-control', 'private'],
  ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
  ['location', 'https://www.example.com'],
  ['content-encoding', 'gzip'],
  ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
];

const C3 = [
  '828684410f7777772e6578616d706c652e636f6d',
  '828684be58086e6f2d6361636865',
  '828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565',
];
const C4 = ['828684418cf1e3c2e5f23a6ba0ab90f4ff', '828684be5886a8eb10649cbf', '828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf'];
const C5 = [
  '4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d54' +
    '6e1768747470733a2f2f7777772e6578616d706c652e636f6d',
  '4803333037c1c0bf',
  '88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d' +
    '4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31',
];
const C6 = [
  '488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3',
  '4883640effc1c0bf',
  '88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f' +
    '3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007',
];

test('static table: 61 entries from RFC 7541 Appendix A, encoder lookup by name and value', () => {
  assert.equal(STATIC_TABLE_LENGTH, 61);
  assert.equal(STATIC_NAMES.length, 62);
  assert.deepEqual([STATIC_NAMES[1], STATIC_VALUES[1]], [':authority', '']);
  assert.deepEqual([STATIC_NAMES[16], STATIC_VALUES[16]], ['accept-encoding', 'gzip, deflate']);
  assert.deepEqual([STATIC_NAMES[61], STATIC_VALUES[61]], ['www-authenticate', '']);
  assert.equal(STATIC_BY_NAME.get(':status')?.index, 8);
  assert.equal(STATIC_BY_NAME.get(':status')?.values.get('404'), 13);
  assert.equal(STATIC_BY_NAME.get(':path')?.values.get('/index.html'), 5);
  assert.equal(STATIC_BY_NAME.get('cookie')?.index, 32);
  assert.equal(STATIC_BY_NAME.get('x-custom'), undefined);
});

test('huffman: the code is prefix-free and complete (Kraft sum with EOS is 1)', () => {
  let kraft = 0;
  for (let s = 0; s <= HUFFMAN_EOS; s++) {
    const a = huffmanCode(s);
    assert.ok(a.bits >= 5 && a.bits <= 30 && a.code < 2 ** a.bits, `symbol ${s}`);
    kraft += 2 ** (30 - a.bits);
    for (let t = s + 1; t <= HUFFMAN_EOS; t++) {
      const b = huffmanCode(t);
      const [short, long] = a.bits <= b.bits ? [a, b] : [b, a];
      assert.notEqual(Math.floor(long.code / 2 ** (long.bits - short.bits)), short.code, `${s} / ${t}`);
    }
  }
  assert.equal(kraft, 2 ** 30);
  assert.deepEqual(huffmanCode(HUFFMAN_EOS), { code: 0x3fffffff, bits: 30 });
});

test('huffman: RFC 7541 Appendix C strings encode and decode', () => {
  const vectors: [string, string][] = [
    ['www.example.com', 'f1e3c2e5f23a6ba0ab90f4ff'],
    ['no-cache', 'a8eb10649cbf'],
    ['custom-key', '25a849e95ba97d7f'],
    ['custom-value', '25a849e95bb8e8b4bf'],
    ['302', '6402'],
    ['307', '640eff'],
    ['private', 'aec3771a4b'],
    ['Mon, 21 Oct 2013 20:13:21 GMT', 'd07abe941054d444a8200595040b8166e082a62d1bff'],
    ['https://www.example.com', '9d29ad171863c78f0b97c8e9ae82ae43d3'],
    ['gzip', '9bd9ab'],
    [
      'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1',
      '94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007',
    ],
  ];
  for (const [str, h] of vectors) {
    assert.equal(huffman(str).toString('hex'), h, str);
    const b = hex(h);
    assert.equal(huffmanDecode(b, 0, b.length), str);
  }
  assert.equal(huffmanEncodedLength(''), 0);
  assert.equal(huffmanDecode(Buffer.alloc(0), 0, 0), '');
});

test('huffman: round trip of every byte value and of random strings', () => {
  let all = '';
  for (let c = 0; c < 256; c++) {
    const s = String.fromCharCode(c);
    all += s;
    const b = huffman(s);
    assert.equal(huffmanDecode(b, 0, b.length), s, `byte ${c}`);
    const s3 = s + 'a' + s;
    const b3 = huffman(s3);
    assert.equal(huffmanDecode(b3, 0, b3.length), s3, `byte ${c} in a string`);
  }
  const b = huffman(all);
  assert.equal(huffmanDecode(b, 0, b.length), all);

  const rand = rng(7);
  for (let i = 0; i < 500; i++) {
    const s = randomLatin1(rand, (rand() * 200) | 0);
    const enc = huffman(s);
    // Decode from the middle of a larger buffer.
    const padded = Buffer.concat([Buffer.from([1, 2, 3]), enc, Buffer.from([4])]);
    assert.equal(huffmanDecode(padded, 3, 3 + enc.length), s);
  }
  // Encoding at an offset leaves the bytes around it alone.
  const out = Buffer.alloc(20, 0xaa);
  const end = huffmanEncode('no-cache', out, 3);
  assert.equal(end, 9);
  assert.equal(out.toString('hex'), 'aaaaaa' + 'a8eb10649cbf' + 'aa'.repeat(11));
});

test('huffman: EOS, padding over 7 bits and padding that is not all 1s are rejected', () => {
  const bad = (h: string, why: string) => {
    const b = hex(h);
    assert.throws(() => huffmanDecode(b, 0, b.length), HpackError, why);
  };
  // 'a' is 00011 (5 bits).
  assert.equal(huffmanDecode(hex('1f'), 0, 1), 'a');
  bad('ffffffff', 'EOS (30 ones) then 2 bits of padding');
  bad('1fffffffff', "'a', then EOS in the next 32 bits");
  bad('ff', '8 bits of padding');
  bad('1fff', "'a' then 11 bits of padding");
  bad('18', "'a' then padding 000");
  bad('1e', "'a' then padding 110");
  bad('fe', '7 bits that are not all 1');
});

test('decoder: RFC 7541 C.2 literal field representations', () => {
  const dec = new HpackDecoder();
  // C.2.1 literal with indexing, new name.
  assert.deepEqual(decodePairs(dec, hex('400a637573746f6d2d6b65790d637573746f6d2d686561646572')), [['custom-key', 'custom-header']]);
  assert.equal(dec.tableSize, 55);
  assert.equal(dec.tableLength, 1);
  // C.2.2 literal without indexing, indexed name.
  const dec2 = new HpackDecoder();
  assert.deepEqual(decodePairs(dec2, hex('040c2f73616d706c652f70617468')), [[':path', '/sample/path']]);
  assert.equal(dec2.tableSize, 0);
  // C.2.3 literal never indexed, new name.
  const dec3 = new HpackDecoder();
  assert.deepEqual(decodePairs(dec3, hex('100870617373776f726406736563726574')), [['password', 'secret']]);
  assert.equal(dec3.tableSize, 0);
  // C.2.4 indexed field.
  const dec4 = new HpackDecoder();
  const out: string[] = [];
  assert.equal(dec4.decode(hex('82'), out), 7 + 3 + 32);
  assert.deepEqual(out, [':method', 'GET']);
  assert.equal(dec4.tableSize, 0);
});

test('decoder: RFC 7541 C.3 and C.4 requests (raw and Huffman) share the dynamic table', () => {
  for (const blocks of [C3, C4]) {
    const dec = new HpackDecoder();
    const expected = [REQ1, REQ2, REQ3];
    const sizes = [57, 110, 164];
    const lengths = [1, 2, 3];
    for (let i = 0; i < 3; i++) {
      const out: string[] = [];
      const listSize = dec.decode(hex(blocks[i]), out);
      assert.deepEqual(pairs(out), expected[i]);
      assert.equal(listSize, expected[i].reduce((n, [k, v]) => n + k.length + v.length + 32, 0));
      assert.equal(dec.tableSize, sizes[i]);
      assert.equal(dec.tableLength, lengths[i]);
    }
  }
});

test('decoder: RFC 7541 C.5 and C.6 responses evict from a 256-byte table', () => {
  for (const blocks of [C5, C6]) {
    const dec = new HpackDecoder(256);
    const expected = [RESP1, RESP2, RESP3];
    const sizes = [222, 222, 215];
    const lengths = [4, 4, 3];
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(decodePairs(dec, hex(blocks[i])), expected[i]);
      assert.equal(dec.tableSize, sizes[i]);
      assert.equal(dec.tableLength, lengths[i]);
    }
  }
});

test('decoder: accepts a Uint8Array that is a view into a larger buffer', () => {
  const whole = Buffer.concat([Buffer.from([0xff, 0xff]), hex(C4[0]), Buffer.from([0xff])]);
  const view = new Uint8Array(whole.buffer, whole.byteOffset + 2, whole.length - 3);
  assert.deepEqual(decodePairs(new HpackDecoder(), Buffer.from(view)), REQ1);
  const out: string[] = [];
  new HpackDecoder().decode(view, out);
  assert.deepEqual(pairs(out), REQ1);
});

test('encoder: reproduces RFC 7541 C.3 (raw strings) and C.5 (256-byte table, after its size update)', () => {
  const enc = new HpackEncoder();
  const flat = (p: [string, string][]) => p.flat();
  assert.deepEqual(
    [REQ1, REQ2, REQ3].map((r) => enc.encode(flat(r)).toString('hex')),
    C3,
  );
  assert.equal(enc.tableSize, 164);

  const enc2 = new HpackEncoder();
  enc2.setPeerMaxTableSize(256);
  assert.deepEqual(
    [RESP1, RESP2, RESP3].map((r) => enc2.encode(flat(r)).toString('hex')),
    ['3fe101' + C5[0], C5[1], C5[2]],
  );
  assert.equal(enc2.tableSize, 215);
});

test('encoder: Huffman option codes strings that shrink by a quarter', () => {
  const enc = new HpackEncoder({ huffman: true });
  // 'www.example.com' saves only 3 of 15 bytes: raw (as in C.3.1); 'no-cache' saves 2 of 8: Huffman (as in C.4.2).
  const block = enc.encode(REQ2.flat());
  assert.equal(block.toString('hex'), '828684410f7777772e6578616d706c652e636f6d' + '5886a8eb10649cbf');
  const dec = new HpackDecoder();
  assert.deepEqual(decodePairs(dec, block), REQ2);
  // Raw when Huffman would not save enough ('\xff' codes take 26 bits).
  const enc2 = new HpackEncoder({ huffman: true });
  const b2 = enc2.encode(['x-bin', '\xff\xfe\xfd\xfc']);
  assert.equal(b2.toString('latin1').endsWith('\x04\xff\xfe\xfd\xfc'), true);
});

test('encoder: field representations (indexed, never indexed, without indexing)', () => {
  const enc = new HpackEncoder();
  // Exact static match → indexed.
  assert.equal(enc.encode([':method', 'GET', 'accept-encoding', 'gzip, deflate']).toString('hex'), '8290');
  // Short cookie and any authorization → never indexed (0001), name from the static table.
  assert.equal(enc.encode(['cookie', 'a=b']).toString('hex'), '1f11' + '03' + Buffer.from('a=b').toString('hex'));
  assert.equal(enc.encode(['authorization', 'x']).toString('hex'), '1f08' + '0178');
  // A long cookie is indexed, then sent as an index.
  const longCookie = 'session=' + 'z'.repeat(30);
  assert.equal(enc.encode(['cookie', longCookie])[0], 0x60);
  assert.equal(enc.encode(['cookie', longCookie]).toString('hex'), 'be');
  // :path and content-length → without indexing (0000), 4-bit prefix name index.
  assert.equal(enc.encode([':path', '/x', 'content-length', '5']).toString('hex'), '04022f78' + '0f0d0135');
  // An entry over 3/4 of the table is not indexed.
  const before = enc.tableLength;
  const big = enc.encode(['x-big', 'v'.repeat(3100)]);
  assert.equal(big[0], 0x00);
  assert.equal(enc.tableLength, before);
  // The output is a copy: encoding again does not change an earlier block.
  const first = enc.encode(['x-a', 'one']);
  const copy = Buffer.from(first);
  enc.encode(['x-b', 'two-two-two-two']);
  assert.deepEqual(first, copy);

  // The decoder sees the same fields and table.
  const dec = new HpackDecoder();
  const enc2 = new HpackEncoder();
  const fields = ['cookie', 'a=b', 'authorization', 'Bearer t', ':path', '/x', 'content-length', '5', 'x-big', 'v'.repeat(3100), 'x-y', 'z'];
  for (let i = 0; i < 3; i++) assert.deepEqual(decodePairs(dec, enc2.encode(fields)), pairs(fields));
  assert.equal(dec.tableSize, enc2.tableSize);
  assert.equal(dec.tableLength, 1);
});

test('encoder: table size updates are announced at the start of the next block', () => {
  const enc = new HpackEncoder();
  const dec = new HpackDecoder();
  const fields = ['x-a', 'aaaa', 'x-b', 'bbbb'];
  // The default size again: no update.
  enc.setPeerMaxTableSize(4096);
  assert.equal(enc.encode([':method', 'GET']).toString('hex'), '82');
  assert.deepEqual(decodePairs(dec, enc.encode(fields)), pairs(fields));
  assert.equal(dec.tableLength, 2);
  // Shrunk to 0 then grown to 1000 between two blocks: both sizes are signalled, table emptied.
  enc.setPeerMaxTableSize(0);
  enc.setPeerMaxTableSize(1000);
  const block = enc.encode(fields);
  assert.equal(block.toString('hex').slice(0, 8), '20' + '3fc907');
  assert.deepEqual(decodePairs(dec, block), pairs(fields));
  assert.equal(dec.maxTableSize, 1000);
  assert.equal(enc.maxTableSize, 1000);
  assert.equal(dec.tableLength, 2);
  // A peer limit above 4096 is capped at 4096.
  enc.setPeerMaxTableSize(65536);
  const b2 = enc.encode(fields);
  assert.equal(b2.toString('hex').slice(0, 6), '3fe11f');
  decodePairs(dec, b2);
  assert.equal(dec.maxTableSize, 4096);
  // Shrunk then grown back: the smaller size is signalled first.
  enc.setPeerMaxTableSize(100);
  enc.setPeerMaxTableSize(5000);
  const b3 = enc.encode(fields);
  assert.equal(b3.toString('hex').slice(0, 10), '3f45' + '3fe11f');
  assert.deepEqual(decodePairs(dec, b3), pairs(fields));
  assert.equal(dec.tableSize, enc.tableSize);
});

test('encoder → decoder: random header lists over shared tables, with size changes and eviction', () => {
  const rand = rng(42);
  const names = [
    ':method', ':path', ':authority', ':scheme', 'accept', 'accept-encoding', 'user-agent', 'cookie', 'authorization',
    'content-length', 'content-type', 'x-request-id', 'x-a', 'x-b', 'x-c', 'x-forwarded-for', 'grpc-timeout',
  ];
  const values = ['', 'GET', '/', 'gzip, deflate', 'a', 'text/plain', 'application/grpc', 'v1', 'Bearer abcdefgh'];
  const pick = <T>(a: readonly T[]) => a[(rand() * a.length) | 0];
  for (const huffmanOpt of [false, true]) {
    const enc = new HpackEncoder({ huffman: huffmanOpt });
    const dec = new HpackDecoder();
    let evictions = 0;
    for (let block = 0; block < 400; block++) {
      if (rand() < 0.05) enc.setPeerMaxTableSize(pick([0, 64, 256, 1000, 4096, 16384]));
      const fields: string[] = [];
      const n = (rand() * 12) | 0;
      for (let i = 0; i < n; i++) {
        const r = rand();
        const name = r < 0.8 ? pick(names) : 'x-' + randomLatin1(rand, 1 + ((rand() * 8) | 0)).toLowerCase();
        const v = rand();
        const value =
          v < 0.5 ? pick(values) : v < 0.95 ? randomLatin1(rand, (rand() * 40) | 0) : randomLatin1(rand, (rand() * 4000) | 0);
        fields.push(name, value);
      }
      const before = dec.tableLength;
      const out: string[] = [];
      const size = dec.decode(enc.encode(fields), out);
      assert.deepEqual(out, fields, `block ${block}`);
      assert.equal(size, fields.reduce((s, f) => s + f.length, 0) + 16 * fields.length);
      assert.equal(dec.tableSize, enc.tableSize);
      assert.equal(dec.tableLength, enc.tableLength);
      assert.equal(dec.maxTableSize, enc.maxTableSize);
      assert.ok(dec.tableSize <= dec.maxTableSize);
      if (dec.tableLength < before) evictions++;
    }
    assert.ok(evictions > 10, `only ${evictions} evictions`);
  }
});

test('decoder: lowering our setting requires a size update at the start of the next block', () => {
  const enc = new HpackEncoder();
  const dec = new HpackDecoder();
  decodePairs(dec, enc.encode(['x-a', 'b'.repeat(500)]));
  dec.setMaxTableSize(256);
  assert.equal(dec.tableLength, 0);
  // No update: error.
  assert.throws(() => decodePairs(dec, hex('82')), HpackError);
  // An update above the new limit: error.
  assert.throws(() => decodePairs(new HpackDecoder(256), hex('3fe21f82')), HpackError);

  const dec2 = new HpackDecoder();
  const enc2 = new HpackEncoder();
  decodePairs(dec2, enc2.encode(['x-a', 'b']));
  dec2.setMaxTableSize(256);
  enc2.setPeerMaxTableSize(256);
  assert.deepEqual(decodePairs(dec2, enc2.encode(['x-a', 'b'])), [['x-a', 'b']]);
  assert.equal(dec2.maxTableSize, 256);
  // Raising our setting needs no update.
  dec2.setMaxTableSize(4096);
  assert.deepEqual(decodePairs(dec2, hex('82')), [[':method', 'GET']]);
  assert.equal(dec2.maxTableSize, 256);
});

test('decoder: malformed blocks throw HpackError', () => {
  const bad = (h: string, why: string, dec = new HpackDecoder()) =>
    assert.throws(() => dec.decode(hex(h), []), HpackError, why);
  bad('80', 'indexed field 0');
  bad('be', 'index 62 with an empty dynamic table');
  bad('ff00', 'index 127 with an empty dynamic table');
  bad('7e0161', 'literal with indexed name 62, empty table');
  bad('3fe21f', 'size update 4097 > 4096');
  bad('823f00', 'size update after a field');
  bad('ff', 'truncated integer');
  bad('ff80', 'truncated integer continuation');
  bad('ff8080808080808000', 'integer with too many continuation bytes');
  bad('ffffffffff0f', 'integer above 2^31 - 1');
  bad('40', 'literal without its name string');
  bad('4005616263', 'truncated name string');
  bad('0f2f', 'literal with name index 62 (0x0f, 0x2f), empty table');
  bad('410361', 'truncated value string');
  bad('41', 'missing value string');
  bad('41ff', 'truncated value length');
  bad('4181ff', 'Huffman value with 8 bits of padding');
  bad('418118', 'Huffman value with 0-bit padding');
  bad('4184ffffffff', 'Huffman value with EOS');
  // Valid edge cases for contrast.
  assert.deepEqual(decodePairs(new HpackDecoder(), hex('3fe11f')), []);
  assert.deepEqual(decodePairs(new HpackDecoder(), hex('20')), []);
  assert.deepEqual(decodePairs(new HpackDecoder(), hex('4100')), [[':authority', '']]);
  assert.deepEqual(decodePairs(new HpackDecoder(), hex('008000')), [['', '']]);
  // A new entry larger than the whole table empties it.
  const dec = new HpackDecoder(64);
  decodePairs(dec, hex('4000' + '01' + '61'));
  assert.equal(dec.tableSize, 33);
  decodePairs(dec, hex('4000' + '21' + '61'.repeat(33)));
  assert.equal(dec.tableSize, 0);
  assert.equal(dec.tableLength, 0);
});

// --- Interop with nghttp2 (node:http2) over a raw socket ---------------------

interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

/** Reads HTTP/2 frames off a socket; `next(pred)` waits for the next matching one. */
class FrameReader {
  private buf = Buffer.alloc(0);
  private readonly frames: Frame[] = [];
  private waiter: (() => void) | null = null;

  constructor(socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 9) {
        const len = this.buf.readUIntBE(0, 3);
        if (this.buf.length < 9 + len) break;
        this.frames.push({
          type: this.buf[3],
          flags: this.buf[4],
          stream: this.buf.readUInt32BE(5) & 0x7fffffff,
          payload: this.buf.subarray(9, 9 + len),
        });
        this.buf = this.buf.subarray(9 + len);
      }
      this.waiter?.();
    });
  }

  async next(pred: (f: Frame) => boolean): Promise<Frame> {
    for (;;) {
      const i = this.frames.findIndex(pred);
      if (i >= 0) return this.frames.splice(i, 1)[0];
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }
}

/** The header block of a HEADERS frame (PADDED 0x8 and PRIORITY 0x20 stripped). */
function headerBlock(f: Frame): Buffer {
  let p = f.payload;
  let pad = 0;
  if (f.flags & 0x8) {
    pad = p[0];
    p = p.subarray(1);
  }
  if (f.flags & 0x20) p = p.subarray(5);
  return p.subarray(0, p.length - pad);
}

/**
 * Sends 12 requests encoded by HpackEncoder to a node:http2 server over a raw
 * socket, checks nghttp2 decoded exactly those fields, and decodes its
 * responses (Huffman, its own dynamic table) with HpackDecoder.
 * `serverTableSize` / `clientTableSize`: SETTINGS_HEADER_TABLE_SIZE of each side.
 */
async function interop(serverTableSize?: number, clientTableSize?: number): Promise<void> {
  const received = new Map<number, { raw: string[]; sensitive: string[] }>();
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer(serverTableSize === undefined ? {} : { settings: { headerTableSize: serverTableSize } });
  server.on('session', (s) => sessions.add(s));
  server.on('stream', (stream, headers, _flags, ...rest: unknown[]) => {
    const rawHeaders = rest[0] as string[]; // node passes the raw list after flags
    const sensitive = ((headers as Record<symbol, unknown>)[http2.sensitiveHeaders] as string[] | undefined) ?? [];
    received.set(stream.id!, { raw: rawHeaders, sensitive: [...sensitive] });
    const n = Number(String(headers[':path']).slice(3));
    stream.respond(
      {
        ':status': n % 3 === 0 ? 404 : 200,
        'content-type': 'text/plain',
        'x-repeat': 'same-every-time',
        'x-count': String(n),
        'x-half': n % 2 === 0 ? 'even' : 'odd',
        'x-long': String(n % 5).repeat(60),
        'set-cookie': [`id=${n}`, 'static=1'],
      },
      { endStream: true },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const socket = net.connect(port, '127.0.0.1');
  try {
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const reader = new FrameReader(socket);
    const enc = new HpackEncoder();
    const dec = new HpackDecoder(clientTableSize);
    const ourSettings = Buffer.alloc(clientTableSize === undefined ? 0 : 6);
    if (clientTableSize !== undefined) {
      ourSettings.writeUInt16BE(1, 0);
      ourSettings.writeUInt32BE(clientTableSize, 2);
    }
    socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), frame(4, 0, 0, ourSettings)]));
    const settings = await reader.next((f) => f.type === 4 && (f.flags & 1) === 0);
    for (let i = 0; i + 6 <= settings.payload.length; i += 6) {
      if (settings.payload.readUInt16BE(i) === 1) enc.setPeerMaxTableSize(settings.payload.readUInt32BE(i + 2));
    }
    socket.write(frame(4, 1, 0, Buffer.alloc(0)));
    assert.equal(enc.maxTableSize, serverTableSize ?? 4096);

    const sent = new Map<number, string[]>();
    const requests: Buffer[] = [];
    for (let n = 0; n < 12; n++) {
      const stream = 1 + 2 * n;
      const fields = [
        ':method', n === 5 ? 'POST' : 'GET',
        ':scheme', 'http',
        ':path', `/r/${n}`,
        ':authority', `127.0.0.1:${port}`,
        'user-agent', 'legate-hpack-test',
        'accept', '*/*',
        'x-changing', `value-${n % 4}`,
        'x-latin1', 'caf\xe9 \xff',
        'x-filler', 'f'.repeat(100 + 10 * n),
        'cookie', 'a=b',
        'cookie', 'session=0123456789abcdefghijklmnop',
        'authorization', 'Bearer secret-token',
      ];
      if (n % 4 === 1) fields.push('x-big', 'q'.repeat(3200));
      sent.set(stream, fields);
      requests.push(frame(1, 0x5, stream, enc.encode(fields)));
    }
    assert.ok(enc.tableLength > 3);
    socket.write(Buffer.concat(requests));

    for (let n = 0; n < 12; n++) {
      const f = await reader.next((fr) => fr.type === 1);
      assert.equal(f.flags & 0x4, 0x4, 'END_HEADERS');
      const out: string[] = [];
      dec.decode(headerBlock(f), out);
      const n2 = (f.stream - 1) / 2;
      const got = pairs(out);
      const get = (name: string) => got.filter(([k]) => k === name).map(([, v]) => v);
      assert.deepEqual(get(':status'), [n2 % 3 === 0 ? '404' : '200']);
      assert.deepEqual(get('content-type'), ['text/plain']);
      assert.deepEqual(get('x-repeat'), ['same-every-time']);
      assert.deepEqual(get('x-count'), [String(n2)]);
      assert.deepEqual(get('x-half'), [n2 % 2 === 0 ? 'even' : 'odd']);
      assert.deepEqual(get('x-long'), [String(n2 % 5).repeat(60)]);
      assert.deepEqual(get('set-cookie'), [`id=${n2}`, 'static=1']);
    }
    // nghttp2 indexes what it sends, so our decoder's table filled up.
    assert.ok(dec.tableLength > 3);
    assert.equal(dec.maxTableSize, clientTableSize ?? 4096);

    assert.equal(received.size, 12);
    for (const [stream, fields] of sent) {
      const got = received.get(stream)!;
      assert.deepEqual(got.raw, fields, `stream ${stream}`);
      // The short cookie and the authorization went as never-indexed literals.
      assert.deepEqual(got.sensitive.sort(), ['authorization', 'cookie']);
    }
  } finally {
    socket.destroy();
    for (const s of sessions) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

test('interop: node:http2 decodes our blocks, and we decode its responses (default 4096-byte tables)', async () => {
  await interop();
});

test('interop: the same with small tables (server 1024, client 256), forcing size updates and eviction', async () => {
  await interop(1024, 256);
});
