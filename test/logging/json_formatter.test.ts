import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Protocol } from '../../src/envoy/http/protocol.js';
import type { SubstitutionFormatString } from '../../src/generated/envoy/config/core/v3/substitution_format_string_pb.js';
import { LoggingConfigError } from '../../src/logging/errors.js';
import { compileJsonFormat, compileSubstitutionFormatString } from '../../src/logging/json_formatter.js';
import { context, fakeHost, fromYaml, headers, TestStreamInfo, tempDir } from './test_util.js';

function sampleContext() {
  const si = new TestStreamInfo({
    startTime: Date.UTC(2021, 5, 1, 12, 0, 0, 5),
    startTimeMonotonic: 100,
    completeMonotonic: 142,
    protocol: Protocol.Http11,
    responseCode: 200,
    bytesReceived: 10,
    bytesSent: 2048,
    downstreamRemoteAddress: '198.51.100.4:41000',
    upstreamHost: fakeHost('10.1.1.1:80'),
  });
  si.dynamicMetadata.set('ns', { obj: { k: 'v', n: 1 }, flag: true });
  return context(si, { requestHeaders: headers({ ':method': 'GET', ':path': '/x?y=1', 'user-agent': 'ua' }) });
}

const SSF = 'envoy.config.core.v3.SubstitutionFormatString';

test('typed JSON keeps operator types: numbers, null for missing, strings when mixed', () => {
  const f = compileJsonFormat({
    code: '%RESPONSE_CODE%',
    duration: '%DURATION%',
    bytes: '%BYTES_SENT%',
    port: '%DOWNSTREAM_REMOTE_PORT%',
    protocol: '%PROTOCOL%',
    missing: '%REQ(X-NOPE)%',
    mixed: '%DURATION%.0',
    flags: '%RESPONSE_FLAGS%',
    start: '%START_TIME%',
    meta: '%DYNAMIC_METADATA(ns:obj)%',
    literal: 'plain',
    constNumber: 5,
    constBool: false,
    nested: { method: '%REQ(:METHOD)%', list: ['%REQ(USER-AGENT)%', '%RESPONSE_CODE%', 'x %RESPONSE_CODE%'] },
  }, { preserveTypes: true });
  const line = f.format(sampleContext());
  assert.ok(line.endsWith('}\n'));
  assert.deepEqual(JSON.parse(line), {
    code: 200,
    duration: 42,
    bytes: 2048,
    port: 41000,
    protocol: 'HTTP/1.1',
    missing: null,
    mixed: '42.0',
    flags: '-',
    start: '2021-06-01T12:00:00.005Z',
    meta: { k: 'v', n: 1 },
    literal: 'plain',
    constNumber: 5,
    constBool: false,
    nested: { method: 'GET', list: ['ua', 200, 'x 200'] },
  });
  // Key order follows the config.
  assert.deepEqual(Object.keys(JSON.parse(line)).slice(0, 3), ['code', 'duration', 'bytes']);
});

test('untyped JSON (legacy json_format) renders every value as a string, missing as "-"', () => {
  const f = compileJsonFormat({ code: '%RESPONSE_CODE%', missing: '%REQ(X-NOPE)%', mixed: 'a%REQ(X-NOPE)%b' });
  assert.deepEqual(JSON.parse(f.format(sampleContext())), { code: '200', missing: '-', mixed: 'a-b' });
});

test('omit_empty_values drops missing fields and empties missing parts', () => {
  const typed = compileJsonFormat({ code: '%RESPONSE_CODE%', missing: '%REQ(X-NOPE)%', mixed: 'a%REQ(X-NOPE)%b',
    list: ['%REQ(X-NOPE)%', 'k'] }, { preserveTypes: true, omitEmptyValues: true });
  assert.deepEqual(JSON.parse(typed.format(sampleContext())), { code: 200, mixed: 'ab', list: ['k'] });
  const untyped = compileJsonFormat({ code: '%RESPONSE_CODE%', missing: '%REQ(X-NOPE)%' }, { omitEmptyValues: true });
  assert.deepEqual(JSON.parse(untyped.format(sampleContext())), { code: '200' });
});

test('sort_properties orders keys', () => {
  const f = compileJsonFormat({ b: '1', a: '2', c: { z: '1', y: '2' } }, { sortProperties: true });
  assert.equal(f.format(sampleContext()), '{"a":"2","b":"1","c":{"y":"2","z":"1"}}\n');
});

test('bad values and bad operators inside JSON formats are config errors', () => {
  assert.throws(() => compileJsonFormat({ a: null }), LoggingConfigError);
  assert.throws(() => compileJsonFormat({ a: { b: '%NOPE%' } }), /NOPE/);
});

test('SubstitutionFormatString text_format, with omit_empty_values and content_type', () => {
  const cfg = fromYaml<SubstitutionFormatString>(SSF, `
text_format: "%REQ(:METHOD)% %REQ(X-NOPE)%|\\n"
omit_empty_values: true
content_type: text/html; charset=UTF-8
`);
  const c = compileSubstitutionFormatString(cfg);
  assert.equal(c.formatter.format(sampleContext()), 'GET |\n');
  assert.equal(c.contentType, 'text/html; charset=UTF-8');
});

test('SubstitutionFormatString text_format_source: inline string and file', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'fmt.txt'), 'file: %RESPONSE_CODE%\n');
  const inline = fromYaml<SubstitutionFormatString>(SSF, { text_format_source: { inline_string: 'inline %PROTOCOL%' } });
  assert.equal(compileSubstitutionFormatString(inline).formatter.format(sampleContext()), 'inline HTTP/1.1');
  assert.equal(compileSubstitutionFormatString(inline).contentType, 'text/plain');
  const file = fromYaml<SubstitutionFormatString>(SSF, { text_format_source: { filename: 'fmt.txt' } });
  assert.equal(compileSubstitutionFormatString(file, { configDir: dir }).formatter.format(sampleContext()), 'file: 200\n');
  const missing = fromYaml<SubstitutionFormatString>(SSF, { text_format_source: { filename: join(dir, 'nope') } });
  assert.throws(() => compileSubstitutionFormatString(missing), /unable to read file/);
});

test('SubstitutionFormatString json_format is typed, with json_format_options', () => {
  const cfg = fromYaml<SubstitutionFormatString>(SSF, `
json_format:
  status: "%RESPONSE_CODE%"
  agent: "%REQ(USER-AGENT)%"
  missing: "%REQ(X-NOPE)%"
json_format_options: {sort_properties: true}
`);
  const c = compileSubstitutionFormatString(cfg);
  assert.equal(c.contentType, 'application/json');
  assert.equal(c.formatter.format(sampleContext()), '{"agent":"ua","missing":null,"status":200}\n');
});

test('formatter extensions: req_without_query is built in, others are rejected by name', () => {
  const ok = fromYaml<SubstitutionFormatString>(SSF, `
text_format: "%REQ_WITHOUT_QUERY(:PATH)%"
formatters:
- name: envoy.formatter.req_without_query
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.formatter.req_without_query.v3.ReqWithoutQuery
`);
  assert.equal(compileSubstitutionFormatString(ok).formatter.format(sampleContext()), '/x');
  const bad = fromYaml<SubstitutionFormatString>(SSF, `
text_format: "%CEL(request.path)%"
formatters:
- name: envoy.formatter.cel
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.formatter.cel.v3.Cel
`);
  assert.throws(() => compileSubstitutionFormatString(bad),
    (e: unknown) => e instanceof LoggingConfigError && /envoy\.formatter\.cel/.test(e.message)
      && e.code === 'LEGATE_ERR_UNSUPPORTED_FORMATTER');
});
