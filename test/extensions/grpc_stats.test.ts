/**
 * envoy.filters.http.grpc_stats with a real @grpc/grpc-js upstream, driven
 * through grpc_web over HTTP/1.1 (so the stats filter sees plain gRPC):
 * per-method stats, the default (no method names), the allowlist, message
 * counts, upstream_rq_time and the filter state object.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { startLegate, type LegateProcess } from '../support/legate_process.js';
import { eventually, readStats } from '../support/http_util.js';
import {
  GRPC_WEB_FILTER, grpcFrame, grpcProxyConfig, grpcWebCall, parseGrpcWebBody, startGrpcServer, type GrpcTestServer,
} from '../support/grpc_util.js';

function statsFilter(config: string): string {
  return `${GRPC_WEB_FILTER}
- name: envoy.filters.http.grpc_stats
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.http.grpc_stats.v3.FilterConfig
${config.split('\n').map((l) => `    ${l}`).join('\n')}`;
}

const C = 'cluster.grpc_backend.grpc';

describe('envoy.filters.http.grpc_stats', () => {
  let upstream: GrpcTestServer;
  const started: LegateProcess[] = [];

  before(async () => {
    upstream = await startGrpcServer({
      Unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        if (call.request.toString() === 'fail') cb({ code: grpc.status.PERMISSION_DENIED, details: 'no' });
        else cb(null, call.request);
      },
      ServerStream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
        for (let i = 0; i < 3; i++) call.write(Buffer.from(`m${i}`));
        call.end();
      },
    });
  });
  after(async () => {
    for (const l of started) await l.stop();
    await upstream?.close();
  });

  async function legateWith(filterConfig: string, hcmExtra?: string): Promise<LegateProcess> {
    const l = await startLegate(grpcProxyConfig({ upstreamPort: upstream.port, httpFilters: statsFilter(filterConfig), hcmExtra }), {
      expectListeners: ['ingress'], expectAdmin: true, args: ['--file-flush-interval-msec', '50'],
    });
    started.push(l);
    return l;
  }

  it('stats_for_all_methods: per service/method success, failure, total, status codes, message counts, upstream_rq_time, filter state', async () => {
    const logPath = join(mkdtempSync(join(tmpdir(), 'legate-grpcstats-')), 'access.log');
    const l = await legateWith('stats_for_all_methods: true\nenable_upstream_stats: true\nemit_filter_state: true', `access_log:
- name: envoy.access_loggers.file
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${logPath}
    log_format: { text_format_source: { inline_string: "%REQ(:PATH)% %FILTER_STATE(envoy.filters.http.grpc_stats:PLAIN)%\\n" } }`);
    const port = l.ports.get('ingress')!;
    // Two messages in one request body is not valid unary gRPC; use one, twice.
    assert.equal(parseGrpcWebBody((await grpcWebCall(port, '/test.Echo/Unary', grpcFrame(Buffer.from('a')))).body).trailers?.['grpc-status'], '0');
    await grpcWebCall(port, '/test.Echo/Unary', grpcFrame(Buffer.from('b')));
    const failed = await grpcWebCall(port, '/test.Echo/Unary', grpcFrame(Buffer.from('fail')));
    assert.equal(failed.headers['grpc-status'], '7');
    const stream = await grpcWebCall(port, '/test.Echo/ServerStream', grpcFrame(Buffer.from('go')));
    assert.equal(parseGrpcWebBody(stream.body).messages.length, 3);

    const s = await readStats(l.adminPort!);
    assert.equal(s.get(`${C}.test.Echo.Unary.success`), 2);
    assert.equal(s.get(`${C}.test.Echo.Unary.failure`), 1);
    assert.equal(s.get(`${C}.test.Echo.Unary.total`), 3);
    assert.equal(s.get(`${C}.test.Echo.Unary.0`), 2);
    assert.equal(s.get(`${C}.test.Echo.Unary.7`), 1);
    assert.equal(s.get(`${C}.test.Echo.Unary.request_message_count`), 3);
    assert.equal(s.get(`${C}.test.Echo.Unary.response_message_count`), 2);
    assert.equal(s.get(`${C}.test.Echo.ServerStream.response_message_count`), 3);
    assert.equal(s.get(`${C}.test.Echo.ServerStream.success`), 1);
    assert.equal(s.get(`${C}.success`), undefined, 'no unnamed stats when every method is named');
    // The histogram shows up in the admin stats once it has samples.
    const text = await (await fetch(`http://127.0.0.1:${l.adminPort}/stats?filter=upstream_rq_time`)).text();
    assert.match(text, /cluster\.grpc_backend\.grpc\.test\.Echo\.Unary\.upstream_rq_time/);

    await eventually(() => {
      try { return readFileSync(logPath, 'utf8').includes('/test.Echo/ServerStream 1,3'); } catch { return false; }
    }, 5000, 'filter state in the access log');
    assert.match(readFileSync(logPath, 'utf8'), /\/test\.Echo\/Unary 1,1/);
  });

  it('default (neither specifier): one set of stats without service/method', async () => {
    const l = await legateWith('emit_filter_state: false');
    const port = l.ports.get('ingress')!;
    await grpcWebCall(port, '/test.Echo/Unary', grpcFrame(Buffer.from('x')));
    await grpcWebCall(port, '/test.Echo/Unary', grpcFrame(Buffer.from('fail')));
    const s = await readStats(l.adminPort!);
    assert.equal(s.get(`${C}.success`), 1);
    assert.equal(s.get(`${C}.failure`), 1);
    assert.equal(s.get(`${C}.total`), 2);
    assert.equal(s.get(`${C}.request_message_count`), 2);
    assert.equal(s.get(`${C}.test.Echo.Unary.total`), undefined);
  });

  it('individual_method_stats_allowlist: listed methods by name, others without', async () => {
    const l = await legateWith(`individual_method_stats_allowlist:
  services:
  - name: test.Echo
    method_names: [Unary]`);
    const port = l.ports.get('ingress')!;
    await grpcWebCall(port, '/test.Echo/Unary', grpcFrame(Buffer.from('x')));
    await grpcWebCall(port, '/test.Echo/ServerStream', grpcFrame(Buffer.from('x')));
    const s = await readStats(l.adminPort!);
    assert.equal(s.get(`${C}.test.Echo.Unary.success`), 1);
    assert.equal(s.get(`${C}.test.Echo.ServerStream.success`), undefined);
    assert.equal(s.get(`${C}.success`), 1);
    assert.equal(s.get(`${C}.response_message_count`), 3);
  });

  it('replace_dots_in_grpc_service_name: test.Echo is named test_Echo', async () => {
    const l = await legateWith('stats_for_all_methods: true\nreplace_dots_in_grpc_service_name: true');
    await grpcWebCall(l.ports.get('ingress')!, '/test.Echo/Unary', grpcFrame(Buffer.from('x')));
    const s = await readStats(l.adminPort!);
    assert.equal(s.get(`${C}.test_Echo.Unary.success`), 1);
  });
});
