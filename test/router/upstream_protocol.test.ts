import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Protocol } from '../../src/envoy/http/protocol.js';
import type { ClusterInfo } from '../../src/envoy/upstream/host.js';
import { upstreamProtocolFor } from '../../src/router/upstream_protocol.js';

function cluster(upstreamProtocol: 'http1' | 'http2', useDownstreamProtocol: boolean): ClusterInfo {
  return { upstreamProtocol, useDownstreamProtocol } as ClusterInfo;
}

test('use_downstream_protocol: HTTP/2 and HTTP/3 downstream → HTTP/2, HTTP/1.x → HTTP/1.1', () => {
  const c = cluster('http1', true);
  assert.equal(upstreamProtocolFor(c, Protocol.Http2), 'http2');
  assert.equal(upstreamProtocolFor(c, Protocol.Http3), 'http2');
  assert.equal(upstreamProtocolFor(c, Protocol.Http11), 'http1');
  assert.equal(upstreamProtocolFor(c, Protocol.Http10), 'http1');
});

test('explicit protocol: the downstream protocol does not matter', () => {
  assert.equal(upstreamProtocolFor(cluster('http2', false), Protocol.Http11), 'http2');
  assert.equal(upstreamProtocolFor(cluster('http1', false), Protocol.Http2), 'http1');
  // No downstream protocol known (e.g. a stream made internally): the configured one.
  assert.equal(upstreamProtocolFor(cluster('http1', true), null), 'http1');
});
