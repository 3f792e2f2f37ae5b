/**
 * YAML → located JSON, position lookups and field paths.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, ConfigWarning } from '../../src/config/config_error.js';
import { fieldChild, indexChild, mapKeyChild, parseFieldPath } from '../../src/config/field_path.js';
import { keyPosition, locationOf, moveEntry, SourcePositions, valuePosition, type JsonObject } from '../../src/config/source_positions.js';
import { parseYamlSource } from '../../src/config/yaml_source.js';
import { expectConfigError } from './config_test_util.js';

const parse = (text: string): JsonObject => parseYamlSource(text, 'f.yaml').value as JsonObject;

describe('yaml_source', () => {
  test('values follow the YAML 1.2 core schema (yes/on stay strings)', () => {
    const v = parse('a: yes\nb: on\nc: true\nd: 0.25s\ne: 10\nf: 1.5\ng: null\nh: ~\ni: "5"\nj: 0x10\n');
    assert.deepEqual(v, { a: 'yes', b: 'on', c: true, d: '0.25s', e: 10, f: 1.5, g: null, h: null, i: '5', j: 16 });
  });

  test('integers beyond 2^53 keep their digits', () => {
    assert.deepEqual(parse('big: 18446744073709551615\nneg: -9223372036854775808\n'), {
      big: '18446744073709551615',
      neg: '-9223372036854775808',
    });
  });

  test('positions of keys and values, 1-based', () => {
    const v = parse('a:\n  b: [1, 2]\n  c:\n    - x: 1\n');
    const a = v['a'] as JsonObject;
    assert.deepEqual(keyPosition(v, 'a'), { file: 'f.yaml', line: 1, column: 1 });
    assert.deepEqual(keyPosition(a, 'b'), { file: 'f.yaml', line: 2, column: 3 });
    assert.deepEqual(valuePosition(a, 'b'), { file: 'f.yaml', line: 2, column: 6 });
    assert.deepEqual(valuePosition(a['b'] as object, 1), { file: 'f.yaml', line: 2, column: 10 });
    const item = (a['c'] as JsonObject[])[0] as JsonObject;
    assert.deepEqual(keyPosition(item, 'x'), { file: 'f.yaml', line: 4, column: 7 });
    // An empty value points just after its key.
    const e = parse('k:\nz: 1\n');
    assert.equal(e['k'], null);
    assert.equal(valuePosition(e, 'k')?.line, 1);
  });

  test('aliases are expanded into separate objects; merge keys and !ignore', () => {
    const v = parse('!ignore base: &b { x: 1, y: 2 }\nm:\n  <<: *b\n  y: 3\nl: [*b, *b]\nn: !ignore 5\n');
    assert.deepEqual(v, { m: { x: 1, y: 3 }, l: [{ x: 1, y: 2 }, { x: 1, y: 2 }] });
    const l = v['l'] as JsonObject[];
    assert.notEqual(l[0], l[1]);
  });

  test('a list of merge keys', () => {
    assert.deepEqual(parse('a: &a { x: 1 }\nb: &b { y: 2 }\nc:\n  <<: [*a, *b]\n'), { a: { x: 1 }, b: { y: 2 }, c: { x: 1, y: 2 } });
  });

  test('errors: syntax, duplicate keys, bad merge, complex keys', () => {
    expectConfigError(() => parseYamlSource('a: [1, 2\nb: 3\n', 'f.yaml'), { file: 'f.yaml', includes: ['invalid YAML'] });
    expectConfigError(() => parseYamlSource('a: 1\nb: 2\na: 3\n', 'f.yaml'), { line: 3, column: 1, includes: ['duplicate key "a"'] });
    expectConfigError(() => parseYamlSource('a: &a 5\nb:\n  <<: *a\n', 'f.yaml'), { includes: ['must refer to a mapping'] });
    expectConfigError(() => parseYamlSource('? [a, b]\n: 1\n', 'f.yaml'), { includes: ['keys must be scalars'] });
  });

  test('an empty document is null; several documents warn and use the first', () => {
    assert.equal(parseYamlSource('# only a comment\n', 'f.yaml').value, null);
    const r = parseYamlSource('a: 1\n---\nb: 2\n', 'f.yaml');
    assert.deepEqual(r.value, { a: 1 });
    assert.equal(r.warnings.length, 1);
    assert.equal(r.warnings[0]?.line, 3);
    assert.match(r.warnings[0]?.message ?? '', /only the first is used/);
  });

  test('flow collections closed left of their key (as yaml-cpp accepts) parse with a warning', () => {
    const r = parseYamlSource('c:\n  hosts: [{\n    a: {\n      b: 1\n    }\n  }]\n', 'f.yaml');
    assert.deepEqual(r.value, { c: { hosts: [{ a: { b: 1 } }] } });
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0]?.message ?? '', /closing bracket/);
  });

  test('JSON parses as YAML with positions', () => {
    const v = parse('{\n  "a": {\n    "b": [1, {"c": "d"}]\n  }\n}\n');
    const b = (v['a'] as JsonObject)['b'] as unknown[];
    assert.deepEqual(keyPosition(b[1] as object, 'c'), { file: 'f.yaml', line: 3, column: 15 });
  });
});

describe('source_positions', () => {
  test('lookup by field path, falling back to the closest ancestor key', () => {
    const v = parse('s:\n  list:\n  - name: a\n    m: { "k.x": 1 }\n');
    const sp = new SourcePositions(v);
    assert.deepEqual(sp.lookup('s.list[0].name'), { file: 'f.yaml', line: 3, column: 5 });
    assert.deepEqual(sp.lookup('s.list[0].name', 'value'), { file: 'f.yaml', line: 3, column: 11 });
    assert.deepEqual(sp.lookup('s.list[0].m["k.x"]', 'value'), { file: 'f.yaml', line: 4, column: 17 });
    assert.deepEqual(sp.lookup('s.list[0].missing.deeper'), { file: 'f.yaml', line: 3, column: 5 }); // the list item
    assert.deepEqual(sp.lookup('s.list[7]'), { file: 'f.yaml', line: 2, column: 3 }); // the list key
    assert.deepEqual(sp.lookup(''), { file: 'f.yaml', line: 1, column: 1 });
  });

  test('moving entries keeps their positions and the key order', () => {
    const v = parse('a: 1\nb: 2\nc: 3\n');
    moveEntry(v, 'b', v, 'bb');
    assert.deepEqual(Object.keys(v), ['a', 'bb', 'c']);
    assert.deepEqual(keyPosition(v, 'bb'), { file: 'f.yaml', line: 2, column: 1 });
    const target = parse('x: {}\n')['x'] as JsonObject;
    moveEntry(v, 'c', target, 'c');
    assert.equal(target['c'], 3);
    assert.equal(keyPosition(target, 'c')?.line, 3);
    assert.ok(!('c' in v));
    assert.ok(locationOf(target) !== undefined);
  });
});

describe('field_path and ConfigError formatting', () => {
  test('paths are built and parsed back', () => {
    const p = mapKeyChild(indexChild(fieldChild(fieldChild('', 'static_resources'), 'clusters'), 2), 'envoy.lb');
    assert.equal(p, 'static_resources.clusters[2]["envoy.lb"]');
    assert.deepEqual(parseFieldPath(`${p}.x`), ['static_resources', 'clusters', 2, { key: 'envoy.lb' }, 'x']);
    assert.deepEqual(parseFieldPath('a["q\\"]"].b'), ['a', { key: 'q"]' }, 'b']);
    assert.deepEqual(parseFieldPath('typed_config.@type'), ['typed_config', '@type']);
  });

  test('ConfigError and ConfigWarning messages lead with file:line:column: path:', () => {
    const e = new ConfigError('a.b', 'is wrong', { file: 'x.yaml', line: 3, column: 4 });
    assert.equal(e.message, 'x.yaml:3:4: a.b: is wrong');
    assert.equal(new ConfigError('', 'no file').message, 'no file');
    assert.equal(new ConfigError('p', 'd', { file: 'x.yaml' }).message, 'x.yaml: p: d');
    assert.equal(new ConfigWarning('p', 'w', { file: 'x.yaml', line: 1, column: 2 }).toString(), 'x.yaml:1:2: p: w');
    const combined = ConfigError.combine([e, new ConfigError('c', 'also bad', { file: 'x.yaml', line: 9, column: 1 })]);
    assert.equal(combined.line, 3);
    assert.equal(combined.others.length, 1);
    assert.equal(combined.message, 'x.yaml:3:4: a.b: is wrong\n  also: x.yaml:9:1: c: also bad\n(2 errors)');
    assert.equal(ConfigError.combine([e]), e);
    assert.throws(() => ConfigError.combine([]));
  });
});
