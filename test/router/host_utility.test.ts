import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { getPortStart, maybeNormalizeHost, stripPortFromHost, stripTrailingHostDot } from '../../src/router/host_utility.js';
import { headers } from './test_util.js';

describe('host utilities (Envoy header_utility_test cases)', () => {
  it('getPortStart', () => {
    const cases: Array<[string, boolean]> = [
      ['localhost', false], ['localhost:443', true], ['', false], [':443', true],
      ['192.168.1.1', false], ['192.168.1.1:443', true], ['[fc00::1]:443', true], ['[fc00::1]', false],
    ];
    for (const [h, has] of cases) assert.equal(getPortStart(h) !== -1, has, h);
  });

  it('stripPortFromHost with listener port 443', () => {
    const cases: Array<[string, string]> = [
      ['localhost', 'localhost'], ['localhost:443', 'localhost'], ['', ''], [':443', ''],
      ['192.168.1.1', '192.168.1.1'], ['192.168.1.1:443', '192.168.1.1'], ['[fc00::1]:443', '[fc00::1]'],
      ['[fc00::1]', '[fc00::1]'], [':', ':'], [']:', ']:'], [':abc', ':abc'], ['localhost:80', 'localhost:80'],
      ['192.168.1.1:80', '192.168.1.1:80'], ['[fc00::1]:80', '[fc00::1]:80'],
    ];
    for (const [h, want] of cases) assert.equal(stripPortFromHost(h, 443), want, h);
    assert.equal(stripPortFromHost('localhost:9999', null), 'localhost');
  });

  it('stripTrailingHostDot', () => {
    const cases: Array<[string, string]> = [
      ['localhost', 'localhost'], ['localhost.', 'localhost'], ['', ''], ['192.168.1.1', '192.168.1.1'],
      ['abc.com', 'abc.com'], ['abc.com.', 'abc.com'], ['abc.com:443', 'abc.com:443'], ['abc.com.:443', 'abc.com:443'],
      ['[fc00::1]', '[fc00::1]'], [':', ':'], [']:', ']:'], [':abc', ':abc'], ['.', ''], ['..', '.'], ['.123', '.123'],
      ['.:.', '.:'],
    ];
    for (const [h, want] of cases) assert.equal(stripTrailingHostDot(h), want, h);
  });

  it('maybeNormalizeHost rewrites :authority for the HCM', () => {
    const h = headers([[':authority', 'Example.com.:8080']]);
    maybeNormalizeHost(h, { stripTrailingHostDot: true, stripMatchingHostPort: true }, 8080);
    assert.equal(h.get(':authority'), 'Example.com');
  });
});
