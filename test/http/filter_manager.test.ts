/** FilterManager iteration: Continue / StopIteration / buffering, in both directions. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus, PassThroughFilter,
  type StreamDecoderFilterCallbacks, type StreamEncoderFilterCallbacks,
} from '../../src/envoy/http/filter.js';
import type { HeaderMap } from '../../src/envoy/http/header_map.js';
import { HeaderMapImpl } from '../../src/http/codec/header_map_impl.js';
import { FilterManager, type FilterManagerCallbacks } from '../../src/http/filter_manager.js';
import { StreamInfoImpl } from '../../src/stream_info/stream_info_impl.js';

class Recorder extends PassThroughFilter {
  events: string[] = [];
  headersStatus = FilterHeadersStatus.Continue;
  dataStatus = FilterDataStatus.Continue;
  encodeHeadersStatus = FilterHeadersStatus.Continue;
  constructor(readonly name: string, readonly log: string[]) { super(); }
  get dcb(): StreamDecoderFilterCallbacks { return this.decoderCallbacks; }
  get ecb(): StreamEncoderFilterCallbacks { return this.encoderCallbacks; }
  override decodeHeaders(_h: HeaderMap, end: boolean): FilterHeadersStatus { this.log.push(`${this.name}.dh(${end})`); return this.headersStatus; }
  override decodeData(d: Buffer, end: boolean): FilterDataStatus { this.log.push(`${this.name}.dd(${d},${end})`); return this.dataStatus; }
  override decodeTrailers(): FilterTrailersStatus { this.log.push(`${this.name}.dt`); return FilterTrailersStatus.Continue; }
  override encodeHeaders(_h: HeaderMap, end: boolean): FilterHeadersStatus { this.log.push(`${this.name}.eh(${end})`); return this.encodeHeadersStatus; }
  override encodeData(d: Buffer, end: boolean): FilterDataStatus { this.log.push(`${this.name}.ed(${d},${end})`); return FilterDataStatus.Continue; }
  override onDestroy(): void { this.log.push(`${this.name}.destroy`); }
}

function makeManager(log: string[]): FilterManager {
  const cb: FilterManagerCallbacks = {
    encodeHeadersToCodec: (_h, end) => log.push(`codec.h(${end})`),
    encodeDataToCodec: (d, end) => log.push(`codec.d(${d},${end})`),
    encodeTrailersToCodec: () => log.push('codec.t'),
    encode1xxToCodec: () => log.push('codec.1xx'),
    sendLocalReply: (code) => log.push(`local(${code})`),
    route: () => null,
    clearRouteCache: () => {},
    resetStream: () => log.push('reset'),
    readDisableDownstream: (d) => log.push(`readDisable(${d})`),
    bufferLimit: () => 16,
    streamId: 1, connectionId: 1, statPrefix: 'http.test.', upgradeType: null,
  };
  return new FilterManager(cb, new StreamInfoImpl(null, '127.0.0.1:1', '127.0.0.1:1', '127.0.0.1:2'));
}

const H = (): HeaderMapImpl => HeaderMapImpl.fromPairs([[':method', 'GET'], [':path', '/']]);

describe('FilterManager', () => {
  it('passes headers and data through every decoder filter in order', () => {
    const log: string[] = [];
    const fm = makeManager(log);
    fm.addStreamFilter(new Recorder('a', log));
    fm.addStreamFilter(new Recorder('b', log));
    fm.decodeHeaders(0, H(), false);
    fm.decodeData(0, Buffer.from('x'), true);
    assert.deepEqual(log, ['a.dh(false)', 'b.dh(false)', 'a.dd(x,true)', 'b.dd(x,true)']);
  });

  it('encodes in reverse order and reaches the codec', () => {
    const log: string[] = [];
    const fm = makeManager(log);
    fm.addStreamFilter(new Recorder('a', log));
    fm.addStreamFilter(new Recorder('b', log));
    fm.encodeHeaders(1, HeaderMapImpl.fromPairs([[':status', '200']]), false);
    fm.encodeData(1, Buffer.from('y'), true);
    assert.deepEqual(log, ['b.eh(false)', 'a.eh(false)', 'codec.h(false)', 'b.ed(y,true)', 'a.ed(y,true)', 'codec.d(y,true)']);
  });

  it('trailers reach a filter that stopped on headers and data (the router), and not the filters after it', () => {
    const log: string[] = [];
    const fm = makeManager(log);
    const a = new Recorder('a', log);
    a.headersStatus = FilterHeadersStatus.StopIteration;
    a.dataStatus = FilterDataStatus.StopIterationNoBuffer;
    a.decodeTrailers = (): FilterTrailersStatus => { log.push('a.dt'); return FilterTrailersStatus.StopIteration; };
    fm.addStreamDecoderFilter(a);
    fm.addStreamDecoderFilter(new Recorder('b', log));
    fm.decodeHeaders(0, H(), false);
    fm.decodeData(0, Buffer.from('1'), false);
    fm.decodeComplete = true;
    fm.decodeTrailers(0, HeaderMapImpl.fromPairs([['x-t', '1']]));
    assert.deepEqual(log, ['a.dh(false)', 'a.dd(1,false)', 'a.dt']);
  });

  it('StopIteration holds headers until continueDecoding; data reaches the stopped filter', () => {
    const log: string[] = [];
    const fm = makeManager(log);
    const a = new Recorder('a', log);
    a.headersStatus = FilterHeadersStatus.StopIteration;
    a.dataStatus = FilterDataStatus.StopIterationAndBuffer;
    fm.addStreamDecoderFilter(a);
    fm.addStreamDecoderFilter(new Recorder('b', log));
    fm.decodeComplete = false;
    fm.decodeHeaders(0, H(), false);
    fm.decodeData(0, Buffer.from('1'), false);
    fm.decodeComplete = true;
    fm.decodeData(0, Buffer.from('2'), true);
    assert.deepEqual(log, ['a.dh(false)', 'a.dd(1,false)', 'a.dd(2,true)']);
    a.dcb.continueDecoding();
    assert.deepEqual(log.slice(3), ['b.dh(false)', 'b.dd(12,true)']);
  });

  it('on continueDecoding, a later filter that stops on the headers (the router) still gets the buffered body', () => {
    const log: string[] = [];
    const fm = makeManager(log);
    const a = new Recorder('a', log);
    a.headersStatus = FilterHeadersStatus.StopIteration;
    a.dataStatus = FilterDataStatus.StopIterationAndWatermark;
    const router = new Recorder('router', log);
    router.headersStatus = FilterHeadersStatus.StopIteration;
    fm.addStreamDecoderFilter(a);
    fm.addStreamDecoderFilter(router);
    fm.decodeHeaders(0, H(), false);
    fm.decodeComplete = true;
    fm.decodeData(0, Buffer.from('body'), true);
    a.dcb.continueDecoding();
    assert.deepEqual(log, ['a.dh(false)', 'a.dd(body,true)', 'router.dh(false)', 'router.dd(body,true)']);
  });

  it('StopAllIterationAndBuffer buffers data in the manager and releases it on continue', () => {
    const log: string[] = [];
    const fm = makeManager(log);
    const a = new Recorder('a', log);
    a.headersStatus = FilterHeadersStatus.StopAllIterationAndBuffer;
    fm.addStreamDecoderFilter(a);
    fm.addStreamDecoderFilter(new Recorder('b', log));
    fm.decodeHeaders(0, H(), false);
    fm.decodeData(0, Buffer.from('p'), false);
    fm.decodeComplete = true;
    fm.decodeData(0, Buffer.from('q'), true);
    assert.deepEqual(log, ['a.dh(false)']);
    a.dcb.continueDecoding();
    // Envoy: following filters get the headers, then the buffered body starts at the filter that stopped.
    assert.deepEqual(log.slice(1), ['b.dh(false)', 'a.dd(pq,true)', 'b.dd(pq,true)']);
  });

  it('a buffering data filter over the limit gets a 413 local reply', () => {
    const log: string[] = [];
    const fm = makeManager(log);
    const a = new Recorder('a', log);
    a.dataStatus = FilterDataStatus.StopIterationAndBuffer;
    fm.addStreamDecoderFilter(a);
    fm.decodeHeaders(0, H(), false);
    fm.decodeData(0, Buffer.alloc(10, 97), false);
    fm.decodeData(0, Buffer.alloc(10, 98), false);
    assert.ok(log.includes('local(413)'));
  });

  it('an encoder filter can hold headers and continue later', () => {
    const log: string[] = [];
    const fm = makeManager(log);
    const a = new Recorder('a', log);
    const b = new Recorder('b', log);
    b.encodeHeadersStatus = FilterHeadersStatus.StopIteration;
    fm.addStreamFilter(a);
    fm.addStreamFilter(b);
    fm.encodeHeaders(1, HeaderMapImpl.fromPairs([[':status', '200']]), true);
    assert.deepEqual(log, ['b.eh(true)']);
    b.ecb.continueEncoding();
    assert.deepEqual(log, ['b.eh(true)', 'a.eh(true)', 'codec.h(true)']);
  });

  it('destroys each filter once', () => {
    const log: string[] = [];
    const fm = makeManager(log);
    fm.addStreamFilter(new Recorder('a', log));
    fm.destroyFilters();
    fm.destroyFilters();
    assert.deepEqual(log, ['a.destroy']);
  });
});
