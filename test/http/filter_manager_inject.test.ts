/**
 * FilterManager paths a body-transforming filter (grpc_web) needs: trailers
 * still reach a filter stopped on data, injected data releases held headers,
 * and data added from encodeTrailers goes out ahead of the trailers.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus, PassThroughFilter,
} from '../../src/envoy/http/filter.js';
import type { HeaderMap } from '../../src/envoy/http/header_map.js';
import { HeaderMapImpl } from '../../src/http/codec/header_map_impl.js';
import { FilterManager, type FilterManagerCallbacks } from '../../src/http/filter_manager.js';
import { StreamInfoImpl } from '../../src/stream_info/stream_info_impl.js';

function makeManager(log: string[]): FilterManager {
  const cb: FilterManagerCallbacks = {
    encodeHeadersToCodec: (h, end) => log.push(`codec.h(${h.get(':status')},${end})`),
    encodeDataToCodec: (d, end) => log.push(`codec.d(${d},${end})`),
    encodeTrailersToCodec: (t) => log.push(`codec.t(${t.size})`),
    encode1xxToCodec: () => log.push('codec.1xx'),
    sendLocalReply: (code) => log.push(`local(${code})`),
    route: () => null,
    clearRouteCache: () => {},
    resetStream: () => log.push('reset'),
    readDisableDownstream: () => {},
    bufferLimit: () => 1 << 20,
    streamId: 1, connectionId: 1, statPrefix: 'http.test.', upgradeType: null,
  };
  return new FilterManager(cb, new StreamInfoImpl(null, '127.0.0.1:1', '127.0.0.1:1', '127.0.0.1:2'));
}

const REQ = (): HeaderMapImpl => HeaderMapImpl.fromPairs([[':method', 'POST'], [':path', '/']]);
const RESP = (): HeaderMapImpl => HeaderMapImpl.fromPairs([[':status', '200']]);

/** Upper-cases bodies both ways by injecting, like grpc-web text mode. */
class Upper extends PassThroughFilter {
  override decodeData(d: Buffer, end: boolean): FilterDataStatus {
    this.decoderCallbacks.injectDecodedDataToFilterChain(Buffer.from(d.toString().toUpperCase()), end);
    return FilterDataStatus.StopIterationNoBuffer;
  }
  override encodeData(d: Buffer, end: boolean): FilterDataStatus {
    this.encoderCallbacks.injectEncodedDataToFilterChain(Buffer.from(d.toString().toUpperCase()), end);
    return FilterDataStatus.StopIterationNoBuffer;
  }
  override encodeTrailers(t: HeaderMap): FilterTrailersStatus {
    this.encoderCallbacks.addEncodedData(Buffer.from(`T:${t.get('x')}`), true);
    t.remove('x');
    return FilterTrailersStatus.Continue;
  }
}

/** A terminal filter that stops everything (like the router) and logs. */
class Sink extends PassThroughFilter {
  constructor(private readonly log: string[]) { super(); }
  override decodeHeaders(): FilterHeadersStatus { this.log.push('sink.dh'); return FilterHeadersStatus.StopIteration; }
  override decodeData(d: Buffer, end: boolean): FilterDataStatus { this.log.push(`sink.dd(${d},${end})`); return FilterDataStatus.StopIterationNoBuffer; }
  override decodeTrailers(): FilterTrailersStatus { this.log.push('sink.dt'); return FilterTrailersStatus.StopIteration; }
}

describe('FilterManager: injected data and trailers', () => {
  it('injected request data reaches the next filter, and trailers reach a filter stopped on data', () => {
    const log: string[] = [];
    const fm = makeManager(log);
    fm.addStreamFilter(new Upper());
    fm.addStreamFilter(new Sink(log));
    fm.decodeHeaders(0, REQ(), false);
    fm.decodeData(0, Buffer.from('ab'), false);
    fm.decodeData(0, Buffer.from('c'), false);
    fm.decodeComplete = true; // the connection manager marks this before passing trailers
    fm.decodeTrailers(0, HeaderMapImpl.fromPairs([['x', '1']]));
    assert.deepEqual(log, ['sink.dh', 'sink.dd(AB,false)', 'sink.dd(C,false)', 'sink.dt']);
  });

  it('injected response data follows the headers; data added from encodeTrailers precedes the trailers', () => {
    const log: string[] = [];
    const fm = makeManager(log);
    fm.addStreamFilter(new Upper());
    fm.addStreamFilter(new Sink(log));
    fm.decodeHeaders(0, REQ(), true);
    fm.encodeHeaders(1, RESP(), false);
    fm.encodeData(1, Buffer.from('hi'), false);
    fm.encodeTrailers(1, HeaderMapImpl.fromPairs([['x', 'v']]));
    assert.deepEqual(log, ['sink.dh', 'codec.h(200,false)', 'codec.d(HI,false)', 'codec.d(T:v,false)', 'codec.t(0)']);
  });

  it('a filter holding response headers releases them with its injected data', () => {
    const log: string[] = [];
    const fm = makeManager(log);
    class Hold extends Upper {
      override encodeHeaders(): FilterHeadersStatus { return FilterHeadersStatus.StopIteration; }
      override encodeData(_d: Buffer, end: boolean): FilterDataStatus {
        if (!end) return FilterDataStatus.StopIterationNoBuffer;
        this.encoderCallbacks.responseHeaders()!.set(':status', '299');
        this.encoderCallbacks.injectEncodedDataToFilterChain(Buffer.alloc(0), true);
        return FilterDataStatus.StopIterationNoBuffer;
      }
    }
    fm.addStreamFilter(new Hold());
    fm.addStreamFilter(new Sink(log));
    fm.decodeHeaders(0, REQ(), true);
    fm.encodeHeaders(1, RESP(), false);
    fm.encodeData(1, Buffer.from('dropped'), false);
    fm.encodeData(1, Buffer.from('last'), true);
    assert.deepEqual(log, ['sink.dh', 'codec.h(299,false)', 'codec.d(,true)']);
    assert.equal(fm.responseComplete(), true);
  });
});
