// The h2 bench suites' pure parts: h2load output parsing and run validity,
// the nginx and Legate config generators for HTTP/2, TLS and gRPC.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { h2loadInvalidReasons, parseH2loadOutput } from '../../bench/h2load.js';
import { legateBootstrapYaml } from '../../bench/peers/legate.js';
import { hasHttp2Directive, nginxConf, nginxH2Conf, nginxH2OriginConf } from '../../bench/peers/nginx.js';

const H2LOAD_TLS = `starting benchmark...
spawning thread #0: 10 total client(s). Timing-based test with 0s of warm-up time and 2s of main duration for measurements.
Warm-up started for thread #0.
progress: 10% of clients started
Main benchmark duration is started for thread #0.
TLS Protocol: TLSv1.3
Cipher: TLS_AES_128_GCM_SHA256
Server Temp Key: X25519 253 bits
Application protocol: h2
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 2.00s, 16247.50 req/s, 255.15MB/s
requests: 32495 total, 32595 started, 32495 done, 32495 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 32495 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 510.31MB (535095655) total, 1.46MB (1527265) headers (space savings 50.53%), 507.73MB (532398080) data
                     min         max         mean         sd        +/- sd
time for request:     1.56ms     56.82ms      5.88ms      3.36ms    96.93%
time for connect:     4.38ms     21.06ms     14.22ms      5.91ms    60.00%
time to 1st byte:    21.29ms     56.89ms     37.85ms     14.25ms    40.00%
req/s           :    1611.41     1642.01     1622.99        9.48    70.00%
`;

// h2c, small body; two of the 100 requests in flight at the end had their
// body counted (4 extra bytes), which is allowed.
const H2LOAD_H2C = `Application protocol: h2c
finished in 3.00s, 3785.67 req/s, 100.21KB/s
requests: 11357 total, 11457 started, 11357 done, 11357 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 11357 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 300.63KB (307840) total, 100.02KB (102420) headers (space savings 91.20%), 22.18KB (22718) data
                     min         max         mean         sd        +/- sd
time for request:      382us    159.23ms      8.19ms      7.86ms    87.55%
`;

describe('h2load output', () => {
  it('parses the summary, latency and TLS lines', () => {
    const r = parseH2loadOutput(H2LOAD_TLS);
    assert.equal(r.rps, 16247.5);
    assert.equal(r.durationS, 2);
    assert.deepEqual([r.total, r.started, r.done, r.succeeded, r.failed, r.errored, r.timeout], [32495, 32595, 32495, 32495, 0, 0, 0]);
    assert.deepEqual(r.status, { '2xx': 32495, '3xx': 0, '4xx': 0, '5xx': 0 });
    assert.equal(r.dataBytes, 532398080);
    assert.equal(r.headerBytes, 1527265);
    assert.equal(r.meanMs, 5.88);
    assert.equal(r.maxMs, 56.82);
    assert.equal(r.protocol, 'h2');
    assert.equal(r.tlsProtocol, 'TLSv1.3');
    assert.equal(r.cipher, 'TLS_AES_128_GCM_SHA256');
    const c = parseH2loadOutput(H2LOAD_H2C);
    assert.equal(c.protocol, 'h2c');
    assert.equal(c.meanMs, 8.19);
    assert.equal(c.cipher, undefined);
  });

  it('throws when there is no summary (h2load died)', () => {
    assert.throws(() => parseH2loadOutput('starting benchmark...\nconnect: Connection refused\n'), /no summary/);
  });

  it('accepts clean runs, with in-flight bodies at the end as slack', () => {
    assert.deepEqual(h2loadInvalidReasons(parseH2loadOutput(H2LOAD_TLS), { protocol: 'h2', bodyBytes: 16384, cipher: 'TLS_AES_128_GCM_SHA256' }), []);
    assert.deepEqual(h2loadInvalidReasons(parseH2loadOutput(H2LOAD_H2C), { protocol: 'h2c', bodyBytes: 2 }), []);
  });

  it('rejects errors, non-2xx, the wrong protocol or cipher, and missing or extra body bytes', () => {
    const base = parseH2loadOutput(H2LOAD_H2C);
    const why = (patch: Partial<typeof base>, expect: { protocol: string; bodyBytes: number; cipher?: string } = { protocol: 'h2c', bodyBytes: 2 }) =>
      h2loadInvalidReasons({ ...base, ...patch }, expect).join('; ');
    assert.match(why({ failed: 3 }), /3 failed requests/);
    assert.match(why({ errored: 1 }), /1 errored requests/);
    assert.match(why({ timeout: 2 }), /2 timed-out/);
    assert.match(why({ status: { '2xx': 11350, '3xx': 0, '4xx': 0, '5xx': 7 } }), /7 responses not 2xx/);
    assert.match(why({ succeeded: 11300 }), /57 of 11357 done requests did not succeed/);
    assert.match(why({ protocol: 'http/1.1' }), /protocol http\/1\.1, want h2c/);
    assert.match(why({ protocol: undefined }), /protocol none negotiated/);
    assert.match(why({}, { protocol: 'h2c', bodyBytes: 2, cipher: 'TLS_AES_128_GCM_SHA256' }), /cipher none/);
    // gRPC: every OK call has 37 DATA bytes; 10 trailers-only errors leave the total short.
    assert.match(why({ dataBytes: 11347 * 2 }), /body bytes for 11357 responses, want 22714/);
    assert.match(why({ dataBytes: 22714 + 100 * 2 + 1 }), /want 22714 to 22914/);
    assert.match(why({ done: 0, succeeded: 0, total: 0, rps: 0, dataBytes: 0, status: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 } }), /no requests completed/);
  });
});

describe('HTTP/2 peer configs', () => {
  it('nginx: h2c prior knowledge and TLS, HTTP/1.1 keep-alive or grpc_pass upstream', () => {
    const old = nginxH2Conf({ prefix: '/tmp/x', listenPort: 1111, upstream: { kind: 'http1', port: 2222 }, http2Directive: false });
    assert.match(old, /listen 127\.0\.0\.1:1111 http2 backlog=4096;/);
    assert.doesNotMatch(old, /http2 on;|ssl/);
    assert.match(old, /proxy_http_version 1\.1;/);
    assert.match(old, /proxy_set_header Connection "";/);
    assert.match(old, /server 127\.0\.0\.1:2222;\s+keepalive 128;\s+keepalive_requests 1000000;/);
    assert.match(old, /http2_max_concurrent_streams 1000;/);
    for (const m of old.matchAll(/(?:pid|error_log|_temp_path) (\S+)/g)) assert.ok(m[1]!.startsWith('/tmp/x/'), m[0]);

    const tls = nginxH2Conf({
      prefix: '/tmp/x',
      listenPort: 1111,
      upstream: { kind: 'grpc', port: 3333 },
      tls: { certFile: '/tmp/x/c.pem', keyFile: '/tmp/x/k.pem' },
      http2Directive: true,
    });
    assert.match(tls, /listen 127\.0\.0\.1:1111 ssl backlog=4096;\s+http2 on;/);
    assert.match(tls, /ssl_certificate \/tmp\/x\/c\.pem;/);
    assert.match(tls, /ssl_certificate_key \/tmp\/x\/k\.pem;/);
    assert.match(tls, /grpc_pass grpc:\/\/origin;/);
    assert.doesNotMatch(tls, /proxy_pass/);

    const origin = nginxH2OriginConf({ prefix: '/tmp/o', listenPort: 4444, http2Directive: false });
    assert.match(origin, /listen 127\.0\.0\.1:4444 http2/);
    assert.match(origin, /root \/tmp\/o\/html;/);
    // The HTTP/1 suite's config is untouched by the h2 additions.
    assert.doesNotMatch(nginxConf({ prefix: '/tmp/x', listenPort: 1, originPort: 2 }), /http2|ssl/);
  });

  it('nginx: `http2 on` from 1.25.1, the listen parameter before', () => {
    assert.equal(hasHttp2Directive([1, 22, 1]), false);
    assert.equal(hasHttp2Directive([1, 25, 0]), false);
    assert.equal(hasHttp2Directive([1, 25, 1]), true);
    assert.equal(hasHttp2Directive([1, 26, 0]), true);
    assert.equal(hasHttp2Directive([2, 0, 0]), true);
    assert.equal(hasHttp2Directive(undefined), false);
  });

  it('Legate: DownstreamTlsContext with ALPN h2 + http/1.1, and an HTTP/2 upstream cluster', () => {
    const plain = parseYaml(legateBootstrapYaml({ listenPort: 1111, originPort: 2222 }));
    assert.equal(plain.static_resources.listeners[0].filter_chains[0].transport_socket, undefined);
    assert.equal(plain.static_resources.clusters[0].typed_extension_protocol_options, undefined);

    const doc = parseYaml(
      legateBootstrapYaml({ listenPort: 1111, originPort: 2222, tls: { certFile: '/t/c.pem', keyFile: '/t/k.pem' }, upstreamHttp2: true }),
    );
    const fc = doc.static_resources.listeners[0].filter_chains[0];
    assert.equal(fc.transport_socket.name, 'envoy.transport_sockets.tls');
    const tc = fc.transport_socket.typed_config;
    assert.equal(tc['@type'], 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext');
    assert.deepEqual(tc.common_tls_context.alpn_protocols, ['h2', 'http/1.1']);
    assert.deepEqual(tc.common_tls_context.tls_certificates, [
      { certificate_chain: { filename: '/t/c.pem' }, private_key: { filename: '/t/k.pem' } },
    ]);
    assert.equal(fc.filters[0].typed_config.codec_type, 'AUTO');
    const opts = doc.static_resources.clusters[0].typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
    assert.equal(opts['@type'], 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions');
    assert.deepEqual(opts.explicit_http_config, { http2_protocol_options: {} });
  });
});
