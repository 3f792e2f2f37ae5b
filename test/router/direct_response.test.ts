import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RouteConfigError } from '../../src/router/config_error.js';
import { req, streamInfo, table } from './test_util.js';

function direct(action: string, configDir = process.cwd(), extra = '') {
  const t = table(`
name: rc
${extra}
virtual_hosts:
- name: vh
  domains: ["*"]
  routes:
  - match: {prefix: /}
    direct_response: ${action}
`, { configDir });
  const r = t.route(req('h.com', '/p?q'), streamInfo(), 0);
  assert.ok(r?.directResponse);
  return r.directResponse as import('../../src/router/route_entry_impl.js').DirectResponseEntryImpl;
}

describe('direct_response', () => {
  it('status without body', () => {
    const d = direct('{status: 204}');
    assert.equal(d.status, 204);
    assert.equal(d.body, null);
  });

  it('inline_string and inline_bytes', () => {
    assert.equal(direct('{status: 200, body: {inline_string: "hello\\n"}}').body?.toString(), 'hello\n');
    assert.equal(direct('{status: 503, body: {inline_bytes: "AAEC/w=="}}').body?.toString('hex'), '000102ff');
    assert.equal(direct('{status: 200, body: {inline_string: ""}}').body, null);
  });

  it('filename is read once at compile time, relative to configDir', () => {
    const dir = mkdtempSync(join(tmpdir(), 'legate-dr-'));
    writeFileSync(join(dir, 'body.txt'), 'from file');
    const d = direct('{status: 200, body: {filename: body.txt}}', dir);
    writeFileSync(join(dir, 'body.txt'), 'changed later');
    assert.equal(d.body?.toString(), 'from file');
  });

  it('environment_variable', () => {
    process.env.LEGATE_TEST_BODY = 'env body';
    assert.equal(direct('{status: 200, body: {environment_variable: LEGATE_TEST_BODY}}').body?.toString(), 'env body');
  });

  it('bodies above max_direct_response_body_size_bytes (default 4096) are rejected', () => {
    const big = 'x'.repeat(4097);
    assert.throws(() => direct(`{status: 200, body: {inline_string: "${big}"}}`),
      (e: unknown) => e instanceof RouteConfigError && e.path === 'virtual_hosts[0].routes[0].direct_response.body'
        && /response body size is 4097 bytes; maximum is 4096/.test(e.message));
    assert.equal(direct(`{status: 200, body: {inline_string: "${big}"}}`, process.cwd(), 'max_direct_response_body_size_bytes: 5000').body?.length, 4097);
    const dir = mkdtempSync(join(tmpdir(), 'legate-dr-'));
    writeFileSync(join(dir, 'big.txt'), big);
    assert.throws(() => direct('{status: 200, body: {filename: big.txt}}', dir), /response body file big.txt size is 4097 bytes; maximum is 4096/);
  });

  it('a missing file is a config error', () => {
    assert.throws(() => direct('{status: 200, body: {filename: /nonexistent/legate.txt}}'), /response body file \/nonexistent\/legate.txt does not exist/);
  });

  it('status must be 200-599', () => {
    assert.throws(() => direct('{status: 100}'), /direct_response.status: status must be in \[200, 599\]/);
    assert.throws(() => direct('{status: 600}'), RouteConfigError);
  });

  it('newLocation (for 201/3xx) is the request URL', () => {
    const d = direct('{status: 301}');
    assert.equal(d.newLocation(req('h.com', '/p?q')), 'http://h.com/p?q');
  });

  it('response header lists apply to direct responses', () => {
    const t = table(`
response_headers_to_add: [{header: {key: x-global, value: g}}]
virtual_hosts:
- name: vh
  domains: ["*"]
  routes:
  - match: {prefix: /}
    direct_response: {status: 200}
    response_headers_to_add: [{header: {key: x-route, value: r}}]`);
    const r = t.route(req('h', '/'), streamInfo(), 0)!;
    const resp = req('x', '/');
    r.directResponse!.finalizeResponseHeaders(resp, streamInfo());
    assert.equal(resp.get('x-route'), 'r');
    assert.equal(resp.get('x-global'), 'g');
  });
});
