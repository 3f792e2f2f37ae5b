/** tls_inspector ClientHello parser: real hellos captured from Node's TLS client plus crafted ones. */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import {
  parseClientHello,
  TLS_MAX_CLIENT_HELLO,
  type ClientHelloResult,
} from '../../../../../src/extensions/filters/listener/tls_inspector/client_hello.js';

/** Record the first TLS record a `tls.connect` client sends to a plain TCP server. */
async function captureHello(opts: tls.ConnectionOptions): Promise<Buffer> {
  let resolve!: (b: Buffer) => void;
  let reject!: (e: Error) => void;
  const captured = new Promise<Buffer>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const server = net.createServer((sock) => {
    let acc = Buffer.alloc(0);
    sock.on('error', () => {});
    sock.on('data', (d: Buffer) => {
      acc = Buffer.concat([acc, d]);
      if (acc.length >= 5 && acc.length >= 5 + acc.readUInt16BE(3)) {
        resolve(acc);
        sock.destroy();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  const client = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts });
  client.on('error', () => {}); // the handshake never completes
  const timer = setTimeout(() => reject(new Error('no ClientHello captured')), 5000);
  try {
    return await captured;
  } finally {
    clearTimeout(timer);
    client.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

// --- crafted hellos --------------------------------------------------------------------------

const u8 = (n: number) => Buffer.from([n]);
const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const vec8 = (b: Buffer) => Buffer.concat([u8(b.length), b]);
const vec16 = (b: Buffer) => Buffer.concat([u16(b.length), b]);
const ext = (type: number, body: Buffer) => Buffer.concat([u16(type), vec16(body)]);
const sniExt = (name: string) => ext(0, vec16(Buffer.concat([u8(0), vec16(Buffer.from(name, 'latin1'))])));
const alpnExt = (protos: string[]) => ext(16, vec16(Buffer.concat(protos.map((p) => vec8(Buffer.from(p))))));
const versionsExt = (vs: number[]) => ext(43, vec8(Buffer.concat(vs.map(u16))));

/** A ClientHello handshake message (4-byte handshake header included). */
function buildHello(o: { legacy?: number; exts?: Buffer[] | null } = {}): Buffer {
  const body = Buffer.concat([
    u16(o.legacy ?? 0x0303),
    Buffer.alloc(32, 7), // random
    vec8(Buffer.alloc(32, 9)), // legacy_session_id
    vec16(Buffer.from([0x13, 0x01, 0x13, 0x02, 0xc0, 0x2f])), // cipher_suites
    vec8(Buffer.from([0])), // legacy_compression_methods
    o.exts === null ? Buffer.alloc(0) : vec16(Buffer.concat(o.exts ?? [])),
  ]);
  return Buffer.concat([u8(1), Buffer.from([body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
}

/** Frame a handshake message into TLS handshake records of at most `size` bytes each. */
function frame(msg: Buffer, size: number = 16384): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; i < msg.length; i += size) {
    const frag = msg.subarray(i, Math.min(msg.length, i + size));
    out.push(Buffer.from([22, 3, 1]), u16(frag.length), frag);
  }
  return Buffer.concat(out);
}

/** The handshake message inside a single-record capture. */
function unframe(rec: Buffer): Buffer {
  assert.equal(rec[0], 22);
  assert.equal(rec.length, 5 + rec.readUInt16BE(3), 'capture is exactly one record');
  return rec.subarray(5);
}

/** A view of `buf` that throws on any indexed read outside [0, length). */
function strict(buf: Buffer): Buffer {
  return new Proxy(buf, {
    get(target, key, _receiver) {
      if (typeof key === 'string' && /^-?\d+$/.test(key)) {
        const i = Number(key);
        if (i < 0 || i >= target.length) throw new RangeError(`out-of-range read at ${i} (length ${target.length})`);
        return target[i];
      }
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as Buffer;
}

function done(r: ClientHelloResult) {
  assert.equal(r.status, 'done', JSON.stringify(r));
  if (r.status !== 'done') throw new Error('unreachable');
  return r;
}

function errorReason(r: ClientHelloResult): string {
  assert.equal(r.status, 'error', JSON.stringify(r));
  return r.status === 'error' ? r.reason : '';
}

const STATUSES = new Set(['need_more', 'not_tls', 'error', 'done']);

// --- tests -----------------------------------------------------------------------------------

describe('tls_inspector parseClientHello', () => {
  let withSni: Buffer;
  let noSni: Buffer;
  let tls12: Buffer;

  before(async () => {
    withSni = await captureHello({ servername: 'api.example.com', ALPNProtocols: ['h2', 'http/1.1'] });
    noSni = await captureHello({ servername: '' });
    tls12 = await captureHello({ servername: 'legacy.example.com', maxVersion: 'TLSv1.2' });
  });

  it('real hello: SNI, ALPN and versions (tls_found, sni_found, alpn_found)', () => {
    const r = done(parseClientHello(withSni));
    assert.equal(r.serverName, 'api.example.com');
    assert.deepEqual(r.alpn, ['h2', 'http/1.1']);
    assert.equal(r.versions.legacy, 0x0303);
    assert.ok(r.versions.supported.includes(0x0304), 'TLS 1.3 offered');
    assert.equal(r.bytesProcessed, withSni.length);
  });

  it('real hello without SNI or ALPN (sni_not_found, alpn_not_found)', () => {
    const r = done(parseClientHello(noSni));
    assert.equal(r.serverName, '');
    assert.deepEqual(r.alpn, []);
  });

  it('real TLS 1.2-only hello', () => {
    const r = done(parseClientHello(tls12));
    assert.equal(r.serverName, 'legacy.example.com');
    assert.equal(r.versions.legacy, 0x0303);
    assert.ok(!r.versions.supported.includes(0x0304), 'TLS 1.3 not offered');
  });

  it('every strict prefix of a real hello needs more; the whole hello is done', () => {
    for (const hello of [withSni, noSni, tls12]) {
      for (let n = 0; n < hello.length; n++) {
        assert.deepEqual(parseClientHello(hello.subarray(0, n)), { status: 'need_more' }, `prefix ${n}`);
      }
      done(parseClientHello(hello));
    }
  });

  it('the same hello re-framed into several records parses identically, at every prefix', () => {
    const msg = unframe(withSni);
    for (const size of [1, 2, 3, 4, 5, 7, 64, 100, 511]) {
      const wire = frame(msg, size);
      const r = done(parseClientHello(wire));
      assert.equal(r.serverName, 'api.example.com', `records of ${size}`);
      assert.deepEqual(r.alpn, ['h2', 'http/1.1']);
      assert.equal(r.bytesProcessed, wire.length);
      if (size >= 64) {
        for (let n = 0; n < wire.length; n++) {
          assert.equal(parseClientHello(wire.subarray(0, n)).status, 'need_more', `records of ${size}, prefix ${n}`);
        }
      }
    }
  });

  it('bytes after the hello (e.g. a ChangeCipherSpec record or early data) are ignored', () => {
    const extra = Buffer.from([20, 3, 3, 0, 1, 1, 23, 3, 3, 0, 2]);
    const r = done(parseClientHello(Buffer.concat([withSni, extra])));
    assert.equal(r.serverName, 'api.example.com');
    assert.equal(r.bytesProcessed, withSni.length);
    done(parseClientHello(Buffer.concat([frame(unframe(withSni), 50), extra])));
  });

  it('plaintext is not TLS (tls_not_found) from its first byte', () => {
    const http = Buffer.from('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n');
    for (let n = 1; n <= http.length; n++) {
      assert.deepEqual(parseClientHello(http.subarray(0, n)), { status: 'not_tls' }, `prefix ${n}`);
    }
    assert.deepEqual(parseClientHello(Buffer.alloc(0)), { status: 'need_more' });
    assert.deepEqual(parseClientHello(Buffer.from([0x16])), { status: 'need_more' });
    assert.equal(parseClientHello(Buffer.from([0x80, 0x2e, 0x01, 0x03, 0x01])).status, 'not_tls'); // SSLv2 hello
    assert.equal(parseClientHello(Buffer.from([0x16, 0x02, 0x00])).status, 'not_tls');
    assert.equal(parseClientHello(Buffer.from([0x17, 0x03, 0x03, 0x00, 0x10])).status, 'not_tls');
  });

  it('crafted hellos: lower-cased SNI, no extensions, malformed ALPN ignored like Envoy', () => {
    let r = done(parseClientHello(frame(buildHello({ exts: [sniExt('API.Example.COM'), alpnExt(['h2'])] }))));
    assert.equal(r.serverName, 'api.example.com');
    assert.deepEqual(r.alpn, ['h2']);

    r = done(parseClientHello(frame(buildHello({ exts: null }))));
    assert.equal(r.serverName, '');
    assert.deepEqual(r.versions, { legacy: 0x0303, supported: [] });

    const badAlpn = ext(16, Buffer.from([0, 3, 5, 0x68, 0x32])); // name length overruns the list
    r = done(parseClientHello(frame(buildHello({ exts: [sniExt('a.b'), badAlpn] }))));
    assert.deepEqual(r.alpn, []);
    assert.equal(r.serverName, 'a.b');

    r = done(parseClientHello(frame(buildHello({ exts: [versionsExt([0x0a0a, 0x0304, 0x0303])] }))));
    assert.deepEqual(r.versions.supported, [0x0a0a, 0x0304, 0x0303]);
  });

  it('corrupted records and lengths give a specific error', () => {
    const good = buildHello({ exts: [sniExt('x.example'), alpnExt(['h2'])] });
    const wire = frame(good);
    const mut = (at: number, v: number, b: Buffer = wire) => {
      const c = Buffer.from(b);
      c[at] = v;
      return c;
    };
    assert.equal(errorReason(parseClientHello(Buffer.from([22, 3, 1, 0, 0]))), 'bad_record');
    assert.equal(errorReason(parseClientHello(Buffer.from([22, 3, 1, 0x40, 0x01]))), 'bad_record');
    assert.equal(errorReason(parseClientHello(mut(5, 2))), 'not_client_hello'); // ServerHello
    assert.equal(errorReason(parseClientHello(mut(5 + 4 + 34, 33))), 'malformed_client_hello'); // session id 33
    // Handshake length one short of the record: the extensions block no longer fits.
    const shortLen = Buffer.from(wire);
    shortLen.writeUIntBE(good.length - 5, 6, 3);
    assert.equal(errorReason(parseClientHello(shortLen)), 'malformed_client_hello');
    // Extensions length off by one.
    const extsAt = 5 + 4 + 2 + 32 + 33 + 2 + 6 + 2;
    const badExts = Buffer.from(wire);
    badExts.writeUInt16BE(badExts.readUInt16BE(extsAt) + 1, extsAt);
    assert.equal(errorReason(parseClientHello(badExts)), 'malformed_client_hello');
    // server_name list: bad inner length, empty host_name, two host_names, NUL in the name.
    const sniBad = (body: Buffer) => frame(buildHello({ exts: [ext(0, body)] }));
    assert.equal(errorReason(parseClientHello(sniBad(Buffer.from([0, 9, 0, 0, 3, 0x61])))), 'malformed_client_hello');
    assert.equal(errorReason(parseClientHello(sniBad(Buffer.from([0, 3, 0, 0, 0])))), 'malformed_client_hello');
    const two = Buffer.concat([u8(0), vec16(Buffer.from('a')), u8(0), vec16(Buffer.from('b'))]);
    assert.equal(errorReason(parseClientHello(sniBad(vec16(two)))), 'malformed_client_hello');
    assert.equal(errorReason(parseClientHello(frame(buildHello({ exts: [sniExt('a\0b')] })))), 'malformed_client_hello');
    assert.equal(errorReason(parseClientHello(sniBad(Buffer.alloc(0)))), 'malformed_client_hello');
    // Duplicate extension; bad supported_versions; nothing Envoy's BoringSSL would accept.
    assert.equal(errorReason(parseClientHello(frame(buildHello({ exts: [alpnExt(['h2']), alpnExt(['h2'])] })))), 'duplicate_extension');
    assert.equal(errorReason(parseClientHello(frame(buildHello({ exts: [ext(43, Buffer.from([3, 3, 4, 3]))] })))), 'malformed_client_hello');
    assert.equal(errorReason(parseClientHello(frame(buildHello({ legacy: 0x0300, exts: null })))), 'unsupported_version');
    assert.equal(errorReason(parseClientHello(frame(buildHello({ exts: [versionsExt([0x0300])] })))), 'unsupported_version');
    // An alert record in the middle of a fragmented hello.
    const frag = frame(good, 20);
    const alert = Buffer.from(frag);
    alert[25] = 21;
    assert.equal(errorReason(parseClientHello(alert)), 'bad_record');
  });

  it('fuzzed corruption never throws nor reads out of range', () => {
    const inputs = [withSni, tls12, frame(unframe(withSni), 37)];
    let count = 0;
    for (const base of inputs) {
      for (let at = 0; at < base.length; at++) {
        for (const f of [() => 0, () => 0xff, (v: number) => v ^ 1, (v: number) => v ^ 0x80]) {
          const c = Buffer.from(base);
          c[at] = f(c[at]!);
          for (const b of [c, c.subarray(0, at + 1)]) {
            const r = parseClientHello(strict(b));
            assert.ok(STATUSES.has(r.status), `byte ${at}`);
            count++;
          }
        }
      }
    }
    // Random garbage behind a valid record header, and random truncations.
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    for (let k = 0; k < 2000; k++) {
      const n = rnd() % 300;
      const b = Buffer.alloc(n + 5);
      for (let j = 0; j < b.length; j++) b[j] = rnd() & 0xff;
      b[0] = 22;
      b[1] = 3;
      if (k % 2 === 0) b.writeUInt16BE(Math.min(n, 16384), 3);
      if (k % 3 === 0 && n > 0) b[5] = 1;
      assert.ok(STATUSES.has(parseClientHello(strict(b)).status));
      count++;
    }
    assert.ok(count > 10000);
  });

  it('a hello larger than maxBytes is client_hello_too_large', () => {
    assert.equal(errorReason(parseClientHello(withSni, withSni.length - 1)), 'client_hello_too_large');
    done(parseClientHello(withSni, withSni.length));

    // 20 KB of padding (extension 21) over two records: too large for Envoy's 16 KiB default,
    // detected as soon as the handshake length is known.
    const big = frame(buildHello({ exts: [sniExt('big.example'), ext(21, Buffer.alloc(20000))] }));
    assert.ok(big.length > TLS_MAX_CLIENT_HELLO);
    assert.equal(errorReason(parseClientHello(big)), 'client_hello_too_large');
    assert.equal(errorReason(parseClientHello(big.subarray(0, 9))), 'client_hello_too_large');
    assert.equal(parseClientHello(big.subarray(0, 8)).status, 'need_more');
    // Same hello with a raised limit parses.
    assert.equal(done(parseClientHello(big, 64 * 1024)).serverName, 'big.example');

    // Just under the limit even with the extra record header: fine.
    const fits = buildHello({ exts: [ext(21, Buffer.alloc(16000))] });
    const wire = frame(fits, 8192);
    assert.ok(wire.length <= TLS_MAX_CLIENT_HELLO);
    done(parseClientHello(wire));

    // A peek buffer that reached the limit without a complete hello.
    const trickle = frame(buildHello({ exts: [ext(21, Buffer.alloc(200))] }), 10);
    assert.equal(errorReason(parseClientHello(trickle.subarray(0, 100), 100)), 'client_hello_too_large');
  });
});
