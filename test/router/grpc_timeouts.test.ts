/**
 * gRPC deadlines as Envoy computes them: grpc-timeout parsing and formatting
 * (Grpc::Common), the legacy max_grpc_timeout/grpc_timeout_offset global
 * timeout (FilterUtility::finalTimeout) and the max_stream_duration regime
 * (refreshDurationTimeout).
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { RouteEntryImpl, RouteImpl } from '../../src/router/route_entry_impl.js';
import { HeaderMapImpl } from '../../src/http/codec/header_map_impl.js';
import { getGrpcTimeout, toGrpcTimeout } from '../../src/common/grpc/common.js';
import { routeGlobalTimeoutMs, setGrpcTimeoutHeader, streamDurationTimeoutMs } from '../../src/router/timeouts.js';
import { req, streamInfo, table } from './test_util.js';

function entry(action: string): RouteEntryImpl {
  const t = table(`
virtual_hosts:
- name: vh
  domains: ["*"]
  routes:
  - match: {prefix: /}
    route: ${action}`);
  return (t.route(req('h', '/'), streamInfo(), 0) as RouteImpl).routeEntry as RouteEntryImpl;
}

const withTimeout = (v?: string): HeaderMapImpl => {
  const h = HeaderMapImpl.fromPairs([[':path', '/s/m'], ['content-type', 'application/grpc']]);
  if (v !== undefined) h.set('grpc-timeout', v);
  return h;
};

describe('grpc-timeout header', () => {
  it('parses every unit; u and n round up to whole ms; bad values are ignored', () => {
    assert.equal(getGrpcTimeout(withTimeout('2H')), 7_200_000);
    assert.equal(getGrpcTimeout(withTimeout('3M')), 180_000);
    assert.equal(getGrpcTimeout(withTimeout('4S')), 4000);
    assert.equal(getGrpcTimeout(withTimeout('250m')), 250);
    assert.equal(getGrpcTimeout(withTimeout('1500u')), 2);
    assert.equal(getGrpcTimeout(withTimeout('1000000n')), 1);
    assert.equal(getGrpcTimeout(withTimeout('1n')), 1);
    assert.equal(getGrpcTimeout(withTimeout('0m')), 0);
    for (const bad of ['', 'm', '10', '10x', '-1m', '123456789m', '1.5S']) assert.equal(getGrpcTimeout(withTimeout(bad)), null, bad);
    assert.equal(getGrpcTimeout(withTimeout()), null);
  });
  it('formats in ms while 8 digits fit, then S, M, H, clipped at 99999999H', () => {
    assert.equal(toGrpcTimeout(0), '0m');
    assert.equal(toGrpcTimeout(1234), '1234m');
    assert.equal(toGrpcTimeout(99_999_999), '99999999m');
    assert.equal(toGrpcTimeout(100_000_000), '100000S');
    assert.equal(toGrpcTimeout(99_999_999 * 1000 + 1000), '1666666M');
    assert.equal(toGrpcTimeout(Number.MAX_SAFE_INTEGER), '99999999H');
    assert.equal(toGrpcTimeout(99_999_999 * 3_600_000), '99999999H');
    assert.equal(toGrpcTimeout(7_200_000_000_000), '2000000H');
  });
});

describe('legacy max_grpc_timeout / grpc_timeout_offset', () => {
  it('gRPC requests use grpc-timeout capped at the max; no header (or 0) means the max', () => {
    const e = entry('{cluster: c, timeout: 7s, max_grpc_timeout: 2s}');
    assert.equal(routeGlobalTimeoutMs(e, withTimeout('500m'), true), 500);
    assert.equal(routeGlobalTimeoutMs(e, withTimeout('10S'), true), 2000);
    assert.equal(routeGlobalTimeoutMs(e, withTimeout(), true), 2000);
    assert.equal(routeGlobalTimeoutMs(e, withTimeout('0m'), true), 2000);
    // Not gRPC: the route timeout.
    assert.equal(routeGlobalTimeoutMs(e, withTimeout('500m'), false), 7000);
  });
  it('max_grpc_timeout 0 is infinite: the header alone decides, absent = none', () => {
    const e = entry('{cluster: c, max_grpc_timeout: 0s}');
    assert.equal(routeGlobalTimeoutMs(e, withTimeout('90S'), true), 90_000);
    assert.equal(routeGlobalTimeoutMs(e, withTimeout(), true), 0);
  });
  it('the offset is subtracted only when it leaves time', () => {
    const e = entry('{cluster: c, max_grpc_timeout: 10s, grpc_timeout_offset: 0.1s}');
    assert.equal(routeGlobalTimeoutMs(e, withTimeout('1S'), true), 900);
    assert.equal(routeGlobalTimeoutMs(e, withTimeout('50m'), true), 50);
  });
  it('without max_grpc_timeout, grpc-timeout is ignored and the route timeout applies', () => {
    assert.equal(routeGlobalTimeoutMs(entry('{cluster: c, timeout: 3s}'), withTimeout('1S'), true), 3000);
  });
  it('grpc-timeout upstream carries the enforced timeout', () => {
    const e = entry('{cluster: c, max_grpc_timeout: 2s}');
    const h = withTimeout('10S');
    setGrpcTimeoutHeader(e, h, true, routeGlobalTimeoutMs(e, h, true));
    assert.equal(h.get('grpc-timeout'), '2000m');
    const plain = entry('{cluster: c}');
    const h2 = withTimeout('10S');
    setGrpcTimeoutHeader(plain, h2, true, 15000);
    assert.equal(h2.get('grpc-timeout'), '10S', 'untouched without max_grpc_timeout');
  });
});

describe('max_stream_duration', () => {
  it('turns the route timeout (and max_grpc_timeout) off', () => {
    const e = entry('{cluster: c, timeout: 3s, max_grpc_timeout: 1s, max_stream_duration: {max_stream_duration: 5s}}');
    assert.equal(routeGlobalTimeoutMs(e, withTimeout('1S'), true), 0);
  });
  it('max_stream_duration bounds the stream; 0 means none', () => {
    assert.equal(streamDurationTimeoutMs(entry('{cluster: c, max_stream_duration: {max_stream_duration: 5s}}'), withTimeout(), false), 5000);
    assert.equal(streamDurationTimeoutMs(entry('{cluster: c, max_stream_duration: {max_stream_duration: 0s}}'), withTimeout(), false), null);
    assert.equal(streamDurationTimeoutMs(entry('{cluster: c}'), withTimeout('1S'), true), null);
  });
  it('grpc_timeout_header_max: grpc-timeout capped (0 = uncapped), minus the offset, and written upstream', () => {
    const e = entry('{cluster: c, max_stream_duration: {max_stream_duration: 9s, grpc_timeout_header_max: 2s, grpc_timeout_header_offset: 0.5s}}');
    let h = withTimeout('1S');
    assert.equal(streamDurationTimeoutMs(e, h, true), 500);
    assert.equal(h.get('grpc-timeout'), '500m');
    h = withTimeout('1H');
    assert.equal(streamDurationTimeoutMs(e, h, true), 1500);
    h = withTimeout('300m');
    assert.equal(streamDurationTimeoutMs(e, h, true), 0, 'an offset that eats everything leaves 0');
    // No header: max_stream_duration applies.
    h = withTimeout();
    assert.equal(streamDurationTimeoutMs(e, h, true), 9000);
    assert.equal(h.get('grpc-timeout'), '9000m');
    const uncapped = entry('{cluster: c, max_stream_duration: {grpc_timeout_header_max: 0s}}');
    assert.equal(streamDurationTimeoutMs(uncapped, withTimeout('2M'), true), 120_000);
  });
});

describe('HCM max_stream_duration fallback', () => {
  it('applies when the route sets no max_stream_duration; the route\'s 0 still means none; grpc-timeout untouched outside the new regime', () => {
    const h = withTimeout('1S');
    assert.equal(streamDurationTimeoutMs(entry('{cluster: c}'), h, true, 3000), 3000);
    assert.equal(h.get('grpc-timeout'), '1S');
    assert.equal(streamDurationTimeoutMs(entry('{cluster: c, max_stream_duration: {max_stream_duration: 0s}}'), withTimeout(), false, 3000), null);
    assert.equal(streamDurationTimeoutMs(entry('{cluster: c}'), withTimeout(), false, 0), null);
  });
});
