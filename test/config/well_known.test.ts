/**
 * Duration, wrapper, percent and DataSource helpers.
 */
import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import { describe, test } from 'node:test';
import { create, fromJson, type JsonObject } from '@bufbuild/protobuf';
import type { Duration } from '@bufbuild/protobuf/wkt';
import type { DataSource } from '../../src/generated/envoy/config/core/v3/base_pb.js';
import type { FractionalPercent, Percent } from '../../src/generated/envoy/type/v3/percent_pb.js';
import { messageSchema, typeRegistry } from '../../src/config/type_registry.js';
import {
  dataSourceToBuffer,
  dataSourceToString,
  durationToMs,
  durationToSeconds,
  msToDuration,
  percentToFraction,
  wrapperValue,
} from '../../src/config/well_known.js';
import { expectConfigError, writeTemp } from './config_test_util.js';

function parse<T>(type: string, json: JsonObject): T {
  return fromJson(messageSchema(type), json, { registry: typeRegistry() }) as unknown as T;
}

const duration = (s: string): Duration => fromJson(messageSchema('google.protobuf.Duration'), s, { registry: typeRegistry() }) as unknown as Duration;

describe('well_known', () => {
  test('durationToMs / durationToSeconds with defaults', () => {
    assert.equal(durationToMs(duration('0.25s'), 99), 250);
    assert.equal(durationToMs(duration('3600s'), 99), 3_600_000);
    assert.equal(durationToMs(duration('0.0000015s'), 99), 0);
    assert.equal(durationToMs(undefined, 15_000), 15_000);
    assert.equal(durationToSeconds(duration('1.5s'), 0), 1.5);
    assert.equal(durationToSeconds(undefined, 7), 7);
    assert.equal(durationToMs(msToDuration(1250), 0), 1250);
  });

  test('wrapperValue: unboxed, boxed, unset', () => {
    assert.equal(wrapperValue(5, 1), 5);
    assert.equal(wrapperValue(0, 1), 0);
    assert.equal(wrapperValue(false, true), false);
    assert.equal(wrapperValue({ value: 7 }, 1), 7);
    assert.equal(wrapperValue<number>(undefined, 1), 1);
    assert.equal(wrapperValue<number>(null, 2), 2);
  });

  test('percentToFraction: FractionalPercent denominators, Percent, caps and defaults', () => {
    const fp = (n: number, d?: string): FractionalPercent =>
      parse('envoy.type.v3.FractionalPercent', d === undefined ? { numerator: n } : { numerator: n, denominator: d });
    assert.equal(percentToFraction(fp(5), 0), 0.05);
    assert.equal(percentToFraction(fp(5, 'TEN_THOUSAND'), 0), 0.0005);
    assert.equal(percentToFraction(fp(500_000, 'MILLION'), 0), 0.5);
    assert.equal(percentToFraction(fp(200), 0), 1); // capped at the denominator
    assert.equal(percentToFraction(parse<Percent>('envoy.type.v3.Percent', { value: 12.5 }), 0), 0.125);
    assert.equal(percentToFraction(undefined, 0.3), 0.3);
  });

  test('dataSourceToBuffer: file (relative to configDir), inline bytes/string, env var', () => {
    const file = writeTemp('ds.txt', 'from file');
    const ds = (json: JsonObject): DataSource => parse('envoy.config.core.v3.DataSource', json);
    assert.equal(dataSourceToString(ds({ filename: file }), '/nowhere'), 'from file');
    assert.equal(dataSourceToString(ds({ filename: 'ds.txt' }), dirname(file)), 'from file');
    assert.equal(dataSourceToString(ds({ inline_string: 'hi' }), '/'), 'hi');
    assert.deepEqual([...dataSourceToBuffer(ds({ inline_bytes: Buffer.from([1, 2, 3]).toString('base64') }), '/')], [1, 2, 3]);
    process.env['LEGATE_TEST_DS'] = 'from env';
    assert.equal(dataSourceToString(ds({ environment_variable: 'LEGATE_TEST_DS' }), '/'), 'from env');
  });

  test('dataSourceToBuffer errors name the path', () => {
    const ds = (json: JsonObject): DataSource => parse('envoy.config.core.v3.DataSource', json);
    expectConfigError(() => dataSourceToBuffer(ds({ filename: 'missing.pem' }), '/nonexistent', 'tls.cert'), {
      fieldPath: 'tls.cert.filename',
      includes: ['cannot read /nonexistent/missing.pem: ENOENT'],
    });
    expectConfigError(() => dataSourceToBuffer(ds({ filename: writeTemp('empty.txt', '') }), '/', 'x'), { includes: ['is empty'] });
    assert.equal(dataSourceToBuffer(ds({ filename: writeTemp('empty2.txt', '') }), '/', 'x', true).length, 0);
    delete process.env['LEGATE_TEST_DS_MISSING'];
    expectConfigError(() => dataSourceToBuffer(ds({ environment_variable: 'LEGATE_TEST_DS_MISSING' }), '/', 'y'), {
      fieldPath: 'y.environment_variable',
      includes: ['environment variable LEGATE_TEST_DS_MISSING is not set'],
    });
    const empty = create(messageSchema('envoy.config.core.v3.DataSource')) as unknown as DataSource;
    expectConfigError(() => dataSourceToBuffer(empty, '/', 'z'), { fieldPath: 'z', includes: ['the data source is empty'] });
    expectConfigError(() => dataSourceToBuffer(undefined, '/', 'z'), { fieldPath: 'z' });
    assert.equal(dataSourceToBuffer(undefined, '/', 'z', true).length, 0);
  });
});
