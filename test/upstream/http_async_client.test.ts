// HttpAsyncClientImpl against real upstreams, through the cluster manager of
// the in-process server composition: responses, local 503/504 replies,
// circuit breaking and cancel(), with the stats the router would charge.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startInProcessProxy, type InProcessProxy } from '../support/in_process_proxy.js';
import { eventually, startUpstream, type TestServer } from '../support/http_util.js';
import { indent, staticCluster } from '../integration/fixtures.js';
import { HeaderMapImpl } from '../../src/http/codec/header_map_impl.js';
import { HttpAsyncClientImpl, type HttpAsyncRequestOptions, type HttpMessage } from '../../src/upstream/http_async_client.js';
import type { StreamResetReason } from '../../src/envoy/http/codec.js';

type Outcome = { ok: HttpMessage } | { failed: StreamResetReason };

describe('HttpAsyncClientImpl', () => {
  let echo: TestServer;
  let hang: TestServer;
  const held: http.ServerResponse[] = [];
  let proxy: InProcessProxy;

  before(async () => {
    echo = await startUpstream((req, res, body) => {
      res.setHeader('x-seen-authority', req.headers.host ?? '');
      res.end(`${req.method} ${req.url} ${body}`);
    });
    hang = await startUpstream((_req, res) => { held.push(res); });
    const closed = await startUpstream(); // a port nothing listens on any more
    await closed.close();
    const clusters = [
      staticCluster('echo', echo.port),
      staticCluster('gone', closed.port),
      staticCluster('hang', hang.port, { extra: 'circuit_breakers: { thresholds: [{ max_requests: 1 }] }' }),
      `- name: empty
  type: STATIC
  connect_timeout: 1s
  load_assignment: { cluster_name: empty, endpoints: [] }
`,
    ].join('');
    proxy = await startInProcessProxy(`static_resources:\n  clusters:\n${indent(clusters, 2)}`);
  });

  after(async () => {
    proxy.stop();
    for (const r of held) r.destroy();
    await Promise.all([echo.close(), hang.close()]);
  });

  const client = (cluster: string): HttpAsyncClientImpl => new HttpAsyncClientImpl(proxy.clusterManager.getThreadLocalCluster(cluster)!);
  const message = (method: string, path: string, body = ''): HttpMessage => ({
    headers: HeaderMapImpl.fromPairs([[':method', method], [':path', path], [':scheme', 'http'], [':authority', 'svc.example']]),
    body: Buffer.from(body),
    trailers: null,
  });
  const send = (cluster: string, m: HttpMessage, o: HttpAsyncRequestOptions = {}): Promise<Outcome> => new Promise((resolve) => {
    client(cluster).send(m, { onSuccess: (ok) => resolve({ ok }), onFailure: (failed) => resolve({ failed }) }, o);
  });
  const okOf = (o: Outcome): HttpMessage => {
    assert.ok('ok' in o, `expected a response, got ${JSON.stringify(o)}`);
    return o.ok;
  };

  it('sends the whole message and returns the whole response', async () => {
    const r = okOf(await send('echo', message('POST', '/p?x=1', 'hello')));
    assert.equal(r.headers.get(':status'), '200');
    assert.equal(r.headers.get('x-seen-authority'), 'svc.example');
    assert.equal(r.body.toString(), 'POST /p?x=1 hello');
    assert.equal(proxy.stat('cluster.echo.upstream_rq_200'), 1);
    assert.equal(proxy.stat('cluster.echo.upstream_rq_completed'), 1);
    assert.equal(proxy.stat('cluster.echo.upstream_rq_active'), 0);
  });

  it('discardResponseBody drops the body, keeps the status', async () => {
    const r = okOf(await send('echo', message('GET', '/d'), { discardResponseBody: true }));
    assert.equal(r.headers.get(':status'), '200');
    assert.equal(r.body.length, 0);
  });

  it('no healthy host: a local 503 and upstream_cx_none_healthy', async () => {
    const r = okOf(await send('empty', message('GET', '/')));
    assert.equal(r.headers.get(':status'), '503');
    assert.equal(r.body.toString(), 'no healthy upstream');
    assert.equal(proxy.stat('cluster.empty.upstream_cx_none_healthy'), 1);
  });

  it('timeout: a local 504, upstream_rq_timeout, the upstream stream reset', async () => {
    const r = okOf(await send('hang', message('GET', '/slow'), { timeoutMs: 100 }));
    assert.equal(r.headers.get(':status'), '504');
    assert.equal(r.body.toString(), 'upstream request timeout');
    assert.equal(proxy.stat('cluster.hang.upstream_rq_timeout'), 1);
    assert.equal(proxy.stat('cluster.hang.upstream_rq_504'), 1);
    assert.equal(proxy.stat('cluster.hang.upstream_rq_active'), 0);
    assert.equal(proxy.stat('cluster.hang.upstream_rq_tx_reset'), 1);
  });

  it('the requests circuit breaker: the second concurrent request gets 503 overflow; cancel() frees the slot silently', async () => {
    let called = false;
    const first = client('hang').send(message('GET', '/one'), { onSuccess: () => { called = true; }, onFailure: () => { called = true; } });
    await eventually(() => held.length === 2, 3000, 'the first request upstream');
    const r = okOf(await send('hang', message('GET', '/two')));
    assert.equal(r.headers.get(':status'), '503');
    assert.equal(r.headers.get('x-envoy-overloaded'), 'true');
    assert.equal(proxy.stat('cluster.hang.upstream_rq_pending_overflow'), 1);
    first.cancel();
    assert.equal(proxy.stat('cluster.hang.upstream_rq_active'), 0);
    // The slot is free again: a third request goes upstream (and is cancelled in turn).
    const third = client('hang').send(message('GET', '/three'), { onSuccess: () => { called = true; }, onFailure: () => { called = true; } });
    await eventually(() => held.length === 3, 3000, 'the third request upstream');
    third.cancel();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(called, false, 'no callback after cancel()');
  });

  it('a connection failure before the response: a local 503 naming the reason', async () => {
    const r = okOf(await send('gone', message('GET', '/')));
    assert.equal(r.headers.get(':status'), '503');
    assert.match(r.body.toString(), /^upstream connect error or disconnect\/reset before headers\. reset reason: remote connection failure/);
    assert.equal(proxy.stat('cluster.gone.upstream_cx_connect_fail'), 1);
    assert.equal(proxy.stat('cluster.gone.upstream_rq_503'), 1);
  });
});
