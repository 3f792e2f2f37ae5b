/**
 * The JSON-against-descriptor checks on their own: JSON types of every
 * kind, well-known types inside an Any, maps, deprecated enum values.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ProtoJsonChecker, suggestName } from '../../src/config/proto_json_checker.js';
import { messageSchema, typeRegistry } from '../../src/config/type_registry.js';
import { parseYamlSource } from '../../src/config/yaml_source.js';

function check(type: string, yaml: string, options = {}): ProtoJsonChecker {
  const checker = new ProtoJsonChecker(typeRegistry(), 'f.yaml', options);
  checker.check(parseYamlSource(yaml, 'f.yaml').value, messageSchema(type));
  return checker;
}

function errors(type: string, yaml: string): string[] {
  return check(type, yaml).errors.map((e) => e.message);
}

const TEC = 'envoy.config.core.v3.TypedExtensionConfig';

describe('proto_json_checker', () => {
  test('well-known types inside an Any sit under "value"', () => {
    assert.deepEqual(errors(TEC, 'name: x\ntyped_config: { "@type": type.googleapis.com/google.protobuf.Duration, value: 1.5s }\n'), []);
    assert.deepEqual(errors(TEC, 'name: x\ntyped_config: { "@type": type.googleapis.com/google.protobuf.Struct, value: { a: [1] } }\n'), []);
    assert.deepEqual(errors(TEC, 'name: x\ntyped_config: { "@type": type.googleapis.com/google.protobuf.UInt32Value, value: 5 }\n'), []);
    assert.deepEqual(errors(TEC, 'name: x\ntyped_config: { "@type": type.googleapis.com/google.protobuf.Timestamp, value: "2024-01-31T12:00:00Z" }\n'), []);
    assert.deepEqual(errors(TEC, 'name: x\ntyped_config: { "@type": type.googleapis.com/google.protobuf.Timestamp, value: yesterday }\n'), [
      'f.yaml:2:80: typed_config.value: expected an RFC 3339 timestamp such as "2024-01-31T12:00:00Z", got "yesterday"',
    ]);
    assert.deepEqual(errors(TEC, 'name: x\ntyped_config: { "@type": type.googleapis.com/google.protobuf.Duration, seconds: 5 }\n'), [
      'f.yaml:2:72: typed_config.seconds: unknown field "seconds" (an Any holding google.protobuf.Duration has only "value")',
    ]);
    assert.deepEqual(errors(TEC, 'name: x\ntyped_config: { "@type": type.googleapis.com/google.protobuf.Struct, value: [1] }\n'), [
      'f.yaml:2:77: typed_config.value: expected a mapping (google.protobuf.Struct), got a list',
    ]);
  });

  test('an empty Any is allowed; a non-mapping Any is not', () => {
    assert.deepEqual(errors(TEC, 'name: x\ntyped_config: {}\n'), []);
    assert.deepEqual(errors(TEC, 'name: x\ntyped_config: 5\n'), ['f.yaml:2:15: typed_config: expected a mapping with "@type" (google.protobuf.Any), got number 5']);
  });

  test('a TypedStruct needs a type_url; an unknown inner type is left to the extension registry', () => {
    assert.deepEqual(errors(TEC, 'name: x\ntyped_config: { "@type": type.googleapis.com/xds.type.v3.TypedStruct, value: {} }\n'), [
      'f.yaml:2:15: typed_config: xds.type.v3.TypedStruct needs a type_url naming the message in its value',
    ]);
    assert.deepEqual(errors(TEC, 'name: x\ntyped_config: { "@type": type.googleapis.com/xds.type.v3.TypedStruct, type_url: acme.com/acme.Filter, value: { any: thing } }\n'), []);
    const inner = errors(
      TEC,
      'name: x\ntyped_config:\n  "@type": type.googleapis.com/udpa.type.v1.TypedStruct\n  type_url: type.googleapis.com/envoy.extensions.filters.http.router.v3.Router\n  value: { dynamic_stat: true }\n',
    );
    assert.deepEqual(inner, ['f.yaml:5:12: typed_config.value.dynamic_stat: unknown field "dynamic_stat" (did you mean "dynamic_stats"?)']);
  });

  test('scalars: bytes, floats, 64-bit integers', () => {
    const hv = 'envoy.config.core.v3.HeaderValue';
    assert.deepEqual(errors(hv, 'key: k\nraw_value: "!!"\n'), ['f.yaml:2:12: raw_value: expected base64-encoded bytes, got "!!"']);
    const pct = 'envoy.type.v3.Percent';
    assert.deepEqual(errors(pct, 'value: "12.5"\n'), []);
    assert.deepEqual(errors(pct, 'value: NaN\n'), []);
    assert.deepEqual(errors(pct, 'value: lots\n'), ['f.yaml:1:8: value: expected a number, got "lots"']);
    const rh = 'envoy.config.cluster.v3.Cluster.RingHashLbConfig';
    assert.deepEqual(errors(rh, 'minimum_ring_size: "18446744073709551615"\n'), []);
    assert.deepEqual(errors(rh, 'minimum_ring_size: 18446744073709551616\n'), [
      'f.yaml:1:20: minimum_ring_size: expected an integer in the uint64 range [0, 18446744073709551615], got "18446744073709551616"',
    ]);
    assert.deepEqual(errors(rh, 'minimum_ring_size: 1.5\n'), ['f.yaml:1:20: minimum_ring_size: expected an integer (uint64), got number 1.5']);
  });

  test('maps: value types and integer keys', () => {
    assert.deepEqual(errors('envoy.config.cluster.v3.Cluster', 'name: c\ntyped_extension_protocol_options: { a: 5 }\n'), [
      'f.yaml:2:40: typed_extension_protocol_options["a"]: expected a mapping with "@type" (google.protobuf.Any), got number 5',
    ]);
    assert.deepEqual(errors('envoy.config.cluster.v3.Cluster', 'name: c\ntyped_extension_protocol_options: [1]\n'), [
      'f.yaml:2:35: typed_extension_protocol_options: expected a mapping for map field typed_extension_protocol_options, got a list',
    ]);
    const mm = 'envoy.extensions.filters.network.dubbo_proxy.v3.MethodMatch';
    assert.deepEqual(errors(mm, 'name: { exact: m }\nparams_match: { "1": { exact_match: x } }\n'), []);
    assert.deepEqual(errors(mm, 'name: { exact: m }\nparams_match: { first: { exact_match: x } }\n'), [
      'f.yaml:2:17: params_match["first"]: map key must be an integer, got "first"',
    ]);
  });

  test('a field written under both its names', () => {
    assert.deepEqual(errors('envoy.config.cluster.v3.Cluster', 'name: c\nlb_policy: RANDOM\nlbPolicy: MAGLEV\n'), [
      'f.yaml:3:1: lb_policy: field "lb_policy" is set twice (as "lb_policy" and "lbPolicy")',
    ]);
  });

  test('deprecated enum values warn', () => {
    const c = check('envoy.config.core.v3.ConfigSource', 'ads: {}\nresource_api_version: V2\n');
    assert.deepEqual(c.errors, []);
    assert.deepEqual(c.warnings.map(String), ['f.yaml:2:23: resource_api_version: deprecated enum value envoy.config.core.v3.ApiVersion.V2 (see the Envoy API docs for its replacement)']);
  });

  test('errors stop at maxErrors', () => {
    const c = check('envoy.config.cluster.v3.Cluster', 'a: 1\nb: 2\nc: 3\nd: 4\n', { maxErrors: 2 });
    assert.equal(c.errors.length, 2);
  });

  test('suggestName: typos, case and underscores', () => {
    const names = ['connect_timeout', 'name', 'lb_policy', 'type'];
    assert.equal(suggestName('conect_timeout', names), 'connect_timeout');
    assert.equal(suggestName('ConnectTimeout', names), 'connect_timeout');
    assert.equal(suggestName('lbpolicy', names), 'lb_policy');
    assert.equal(suggestName('nmae', names), 'name');
    assert.equal(suggestName('completely_else', names), undefined);
  });
});
