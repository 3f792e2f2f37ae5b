import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AccessLogInstanceFactory } from '../../../src/envoy/config/typed_config.js';
import { Protocol } from '../../../src/envoy/http/protocol.js';
import type { AccessLog } from '../../../src/generated/envoy/config/accesslog/v3/accesslog_pb.js';
import type { FileAccessLog as FileAccessLogConfig } from '../../../src/generated/envoy/extensions/access_loggers/file/v3/file_pb.js';
import { ConfigError } from '../../../src/config/config_error.js';
import { isolateRegistryForTest, registerFactory } from '../../../src/config/registry.js';
import {
  AccessLogManager,
  setDefaultAccessLogManager,
  type StdioStream,
} from '../../../src/logging/access_log_file.js';
import { registerAccessLoggers, FileAccessLogFactory, StdoutAccessLogFactory } from '../../../src/extensions/access_loggers/index.js';
import { createAccessLogs } from '../../../src/extensions/access_loggers/common/access_log_builder.js';
import { fakeFactoryContext, fakeHost, fromYaml, headers, TestScope, TestStreamInfo, tempDir } from '../../logging/test_util.js';

// Loggers are found through the extension registry; register the built-ins in isolation.
let restoreRegistry: () => void;
before(() => {
  restoreRegistry = isolateRegistryForTest();
  registerAccessLoggers(registerFactory);
});
after(() => restoreRegistry());

const ACCESS_LOG = 'envoy.config.accesslog.v3.AccessLog';

/** Parses an Envoy `access_log:` list. */
function accessLogs(yaml: string): AccessLog[] {
  const wrapper = fromYaml<{ accessLog: AccessLog[] } & import('@bufbuild/protobuf').Message>(
    'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    `stat_prefix: t\nroute_config: {}\n${yaml}`);
  return wrapper.accessLog;
}

interface Setup {
  dir: string;
  manager: AccessLogManager;
  scope: TestScope;
  stdout: string[];
}

function setup(t: { after(fn: () => void): void }): Setup {
  const dir = tempDir(t);
  const stdout: string[] = [];
  const stream: StdioStream = { write: (d: string, cb?: (e?: Error | null) => void) => { stdout.push(d); cb?.(null); return true; } };
  const manager = new AccessLogManager({ stdout: stream, stderr: stream });
  setDefaultAccessLogManager(manager);
  t.after(() => {
    manager.close();
    setDefaultAccessLogManager(null);
  });
  return { dir, manager, scope: new TestScope(), stdout };
}

/** One finished request, as the connection manager would log it. */
function logRequest(instances: ReturnType<typeof createAccessLogs>, code: number, path = '/api/v1/locations'): void {
  const si = new TestStreamInfo({
    startTime: Date.UTC(2016, 3, 15, 20, 17, 0, 310),
    startTimeMonotonic: 10,
    completeMonotonic: 236,
    protocol: Protocol.Http2,
    responseCode: code,
    bytesReceived: 154,
    bytesSent: 0,
    upstreamHost: fakeHost('10.0.2.1:80'),
  });
  const req = headers([
    [':method', 'POST'], [':path', path], [':authority', 'locations'],
    ['x-forwarded-for', '10.0.35.28'], ['user-agent', 'nsq2http'], ['x-request-id', 'cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2'],
  ]);
  const resp = headers({ ':status': String(code), 'x-envoy-upstream-service-time': '100' });
  for (const i of instances) i.log(req, resp, null, si);
}

const ENVOY_EXAMPLE_LINE = '[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 ' +
  '"10.0.35.28" "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "10.0.2.1:80"\n';

test('file logger with no format writes Envoy\'s default line', (t) => {
  const s = setup(t);
  const logs = createAccessLogs(accessLogs(`
access_log:
- name: envoy.access_loggers.file
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${join(s.dir, 'access.log')}
`), 'access_log', fakeFactoryContext(s.dir, s.scope));
  logRequest(logs, 204);
  s.manager.flushAll();
  assert.equal(readFileSync(join(s.dir, 'access.log'), 'utf8'), ENVOY_EXAMPLE_LINE);
  assert.equal(s.scope.counterValue('filesystem.write_buffered'), 1);
  assert.equal(s.scope.counterValue('filesystem.write_completed'), 1);
});

test('log_format text_format with a status_code filter, relative path from the config folder', (t) => {
  const s = setup(t);
  const logs = createAccessLogs(accessLogs(`
access_log:
- name: envoy.access_loggers.file
  filter:
    status_code_filter:
      comparison: {op: GE, value: {default_value: 400, runtime_key: access_log.access_error.status}}
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: logs-errors.log
    log_format:
      text_format_source:
        inline_string: "%RESPONSE_CODE% %REQ(:PATH)% %UPSTREAM_HOST%\\n"
`), 'access_log', fakeFactoryContext(s.dir, s.scope));
  logRequest(logs, 200, '/ok');
  logRequest(logs, 503, '/fail');
  logRequest(logs, 404, '/missing');
  s.manager.flushAll();
  assert.equal(readFileSync(join(s.dir, 'logs-errors.log'), 'utf8'), '503 /fail 10.0.2.1:80\n404 /missing 10.0.2.1:80\n');
});

test('legacy format, json_format and typed_json_format, and log_format json_format', (t) => {
  const s = setup(t);
  const file = (n: string): string => join(s.dir, n);
  const logs = createAccessLogs(accessLogs(`
access_log:
- name: envoy.file_access_log
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${file('text.log')}
    format: "%REQ(:METHOD)% %RESPONSE_CODE%\\n"
- name: envoy.access_loggers.file
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${file('json.log')}
    json_format: {status: "%RESPONSE_CODE%", up: "%UPSTREAM_HOST%", none: "%REQ(X-NONE)%"}
- name: envoy.access_loggers.file
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${file('typed.log')}
    typed_json_format: {status: "%RESPONSE_CODE%", duration: "%DURATION%", none: "%REQ(X-NONE)%"}
- name: envoy.access_loggers.file
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${file('logformat.log')}
    log_format:
      json_format: {status: "%RESPONSE_CODE%", method: "%REQ(:METHOD)%", none: "%REQ(X-NONE)%"}
      omit_empty_values: true
- name: envoy.access_loggers.file
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${file('empty-format.log')}
    format: ""
`), 'access_log', fakeFactoryContext(s.dir, s.scope));
  logRequest(logs, 204);
  s.manager.flushAll();
  assert.equal(readFileSync(file('text.log'), 'utf8'), 'POST 204\n');
  assert.equal(readFileSync(file('json.log'), 'utf8'), '{"status":"204","up":"10.0.2.1:80","none":"-"}\n');
  assert.equal(readFileSync(file('typed.log'), 'utf8'), '{"status":204,"duration":226,"none":null}\n');
  assert.equal(readFileSync(file('logformat.log'), 'utf8'), '{"status":204,"method":"POST"}\n');
  assert.equal(readFileSync(file('empty-format.log'), 'utf8'), ENVOY_EXAMPLE_LINE);
});

test('stdout and stderr loggers, with and without typed_config', (t) => {
  const s = setup(t);
  const logs = createAccessLogs(accessLogs(`
access_log:
- name: envoy.access_loggers.stdout
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
    log_format: {text_format: "out %RESPONSE_CODE%\\n"}
- name: envoy.access_loggers.stdout
- name: envoy.access_loggers.stderr
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog
    log_format: {json_format: {code: "%RESPONSE_CODE%"}}
`), 'access_log', fakeFactoryContext(s.dir, s.scope));
  logRequest(logs, 204);
  s.manager.flushAll();
  // stdout and stderr share the fake stream here: stdout's batch (two loggers) then stderr's.
  assert.deepEqual(s.stdout, [`out 204\n${ENVOY_EXAMPLE_LINE}`, '{"code":204}\n']);
});

test('many loggers on one path share the file and keep request order', (t) => {
  const s = setup(t);
  const path = join(s.dir, 'shared.log');
  const entry = (tag: string): string => `
- name: envoy.access_loggers.file
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${path}
    log_format: {text_format: "${tag} %REQ(:PATH)%\\n"}`;
  const ctx = fakeFactoryContext(s.dir, s.scope);
  const a = createAccessLogs(accessLogs(`access_log:${entry('a')}${entry('b')}`), 'access_log', ctx);
  const b = createAccessLogs(accessLogs(`access_log:${entry('c')}`), 'access_log', ctx);
  for (let i = 0; i < 300; i++) logRequest([...a, ...b], 200, `/r${i}`);
  s.manager.flushAll();
  const got = readFileSync(path, 'utf8').split('\n').slice(0, -1);
  const want: string[] = [];
  for (let i = 0; i < 300; i++) want.push(`a /r${i}`, `b /r${i}`, `c /r${i}`);
  assert.deepEqual(got, want);
});

test('config errors name the field: unopenable path, bad format, unknown logger', (t) => {
  const s = setup(t);
  writeFileSync(join(s.dir, 'file'), '');
  const ctx = fakeFactoryContext(s.dir, s.scope);
  assert.throws(() => createAccessLogs(accessLogs(`
access_log:
- name: envoy.access_loggers.file
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${join(s.dir, 'file', 'x.log')}
`), 'access_log', ctx), (e: unknown) => e instanceof ConfigError
    && e.fieldPath === 'access_log[0].typed_config' && /unable to open file/.test(e.message));
  assert.throws(() => createAccessLogs(accessLogs(`
access_log:
- name: envoy.access_loggers.file
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${join(s.dir, 'ok.log')}
- name: envoy.access_loggers.file
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${join(s.dir, 'ok.log')}
    format: "%BOGUS_OPERATOR%"
`), 'access_log', ctx), (e: unknown) => e instanceof ConfigError
    && e.fieldPath === 'access_log[1].typed_config' && /BOGUS_OPERATOR/.test(e.message));
  assert.throws(() => createAccessLogs(accessLogs(`
access_log:
- name: envoy.access_loggers.http_grpc
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig
`), 'access_log', ctx), (e: unknown) => e instanceof ConfigError && e.fieldPath === 'access_log[0]'
    && /HttpGrpcAccessLogConfig/.test(e.message));
  assert.throws(() => createAccessLogs(accessLogs(`
access_log:
- name: envoy.access_loggers.file
  filter: {status_code_filter: {comparison: {op: GE}}}
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: ${join(s.dir, 'ok.log')}
`), 'access_log', ctx), (e: unknown) => e instanceof ConfigError
    && e.fieldPath === 'access_log[0].filter.status_code_filter.comparison.value');
  // A file logger needs its typed_config (path).
  assert.throws(() => createAccessLogs(accessLogs('access_log:\n- name: envoy.access_loggers.file\n'), 'access_log', ctx),
    /typed_config\.path: value length must be at least 1/);
});

test('the factory checks its config type and path', (t) => {
  const s = setup(t);
  const ctx = fakeFactoryContext(s.dir, s.scope);
  const factory = new FileAccessLogFactory(s.manager);
  const stdoutCfg = fromYaml<import('@bufbuild/protobuf').Message>('envoy.extensions.access_loggers.stream.v3.StdoutAccessLog', {});
  assert.throws(() => factory.createAccessLogInstance(stdoutCfg, ctx), /expected a envoy\.extensions\.access_loggers\.file\.v3\.FileAccessLog/);
  const noPath = fromYaml<FileAccessLogConfig>('envoy.extensions.access_loggers.file.v3.FileAccessLog', {});
  assert.throws(() => factory.createAccessLogInstance(noPath, ctx), /path/);
});

test('registerAccessLoggers registers file, stdout and stderr under their Envoy names and types', (t) => {
  const s = setup(t);
  const got: AccessLogInstanceFactory[] = [];
  registerAccessLoggers((f) => got.push(f));
  assert.deepEqual(got.map((f) => [f.category, f.name, f.configTypes]), [
    ['envoy.access_loggers', 'envoy.access_loggers.file', ['envoy.extensions.access_loggers.file.v3.FileAccessLog']],
    ['envoy.access_loggers', 'envoy.access_loggers.stdout', ['envoy.extensions.access_loggers.stream.v3.StdoutAccessLog']],
    ['envoy.access_loggers', 'envoy.access_loggers.stderr', ['envoy.extensions.access_loggers.stream.v3.StderrAccessLog']],
  ]);
  assert.deepEqual(got[0]!.legacyNames, ['envoy.file_access_log']);
  const withManager: AccessLogInstanceFactory[] = [];
  registerAccessLoggers((f) => withManager.push(f), { manager: s.manager });
  assert.ok(withManager[1] instanceof StdoutAccessLogFactory);
});
