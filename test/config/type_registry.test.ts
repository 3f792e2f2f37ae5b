/**
 * The descriptor-set registry: lazy building, lookups, type URLs, and
 * unpacking Any / TypedStruct.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { create, fromBinary, fromJson, getOption, toBinary, type JsonObject } from '@bufbuild/protobuf';
import { anyPack, FileDescriptorSetSchema, type Any } from '@bufbuild/protobuf/wkt';
import { DescriptorPool } from '../../src/config/descriptor_pool.js';
import { ConfigError } from '../../src/config/config_error.js';
import {
  effectiveTypeName,
  findMessageSchema,
  messageSchema,
  nameToTypeUrl,
  typeRegistry,
  typeRegistryLoadMs,
  typeUrlToName,
  unpackAny,
} from '../../src/config/type_registry.js';
import { expectConfigError } from './config_test_util.js';

const FAULT = 'envoy.extensions.filters.http.fault.v3.HTTPFault';

function anyOf(json: JsonObject): Any {
  return fromJson(messageSchema('google.protobuf.Any'), json, { registry: typeRegistry() }) as unknown as Any;
}

describe('type_registry', () => {
  test('is loaded once and finds Envoy, xds, udpa, PGV and well-known types', () => {
    const reg = typeRegistry();
    assert.equal(typeRegistry(), reg);
    assert.ok(typeRegistryLoadMs() > 0);
    for (const t of [
      'envoy.config.bootstrap.v3.Bootstrap',
      'envoy.extensions.filters.http.router.v3.Router',
      'xds.type.v3.TypedStruct',
      'udpa.type.v1.TypedStruct',
      'validate.FieldRules',
      'google.protobuf.Duration',
    ]) {
      assert.equal(messageSchema(t).typeName, t);
    }
    assert.equal(findMessageSchema('acme.Nope'), undefined);
    assert.throws(() => messageSchema('acme.Nope'), /message type "acme.Nope" is not in the type registry/);
    assert.equal(reg.getEnum('envoy.config.cluster.v3.Cluster.LbPolicy')?.values[0]?.name, 'ROUND_ROBIN');
    assert.equal(reg.getExtension('validate.rules')?.number, 1071);
  });

  test('type URLs', () => {
    assert.equal(typeUrlToName('type.googleapis.com/envoy.config.cluster.v3.Cluster'), 'envoy.config.cluster.v3.Cluster');
    assert.equal(typeUrlToName('example.com/a/b/acme.Thing'), 'acme.Thing');
    assert.equal(typeUrlToName('acme.Thing'), 'acme.Thing');
    assert.equal(nameToTypeUrl('acme.Thing'), 'type.googleapis.com/acme.Thing');
  });

  test('unpackAny decodes a packed message', () => {
    const schema = messageSchema(FAULT);
    const fault = fromJson(schema, { max_active_faults: 4 }, { registry: typeRegistry() });
    const any = anyPack(schema, fault);
    const out = unpackAny(any, 'p') as unknown as { $typeName: string; maxActiveFaults: number };
    assert.equal(out.$typeName, FAULT);
    assert.equal(out.maxActiveFaults, 4);
  });

  test('unpackAny unwraps udpa and xds TypedStruct by re-parsing value as the named type', () => {
    for (const ts of ['udpa.type.v1.TypedStruct', 'xds.type.v3.TypedStruct']) {
      const any = anyOf({ '@type': nameToTypeUrl(ts), type_url: nameToTypeUrl(FAULT), value: { max_active_faults: 2, abort: { http_status: 500 } } });
      assert.equal(effectiveTypeName(any), FAULT);
      const out = unpackAny(any, 'p') as unknown as { $typeName: string; maxActiveFaults: number };
      assert.equal(out.$typeName, FAULT);
      assert.equal(out.maxActiveFaults, 2);
    }
  });

  test('unpackAny errors name the path and the type', () => {
    const unknown = create(messageSchema('google.protobuf.Any'), { typeUrl: 'type.googleapis.com/acme.Nope', value: new Uint8Array() }) as unknown as Any;
    expectConfigError(() => unpackAny(unknown, 'filters[0].typed_config'), {
      fieldPath: 'filters[0].typed_config',
      includes: ['unknown type "acme.Nope"'],
    });
    const empty = create(messageSchema('google.protobuf.Any')) as unknown as Any;
    expectConfigError(() => unpackAny(empty, 'x'), { includes: ['the Any is empty'] });
    const badInner = anyOf({ '@type': nameToTypeUrl('xds.type.v3.TypedStruct'), type_url: nameToTypeUrl('acme.Nope'), value: {} });
    expectConfigError(() => unpackAny(badInner, 'x'), { includes: ['unknown type "acme.Nope" in xds.type.v3.TypedStruct.type_url'] });
    const badValue = anyOf({ '@type': nameToTypeUrl('xds.type.v3.TypedStruct'), type_url: nameToTypeUrl(FAULT), value: { nope: 1 } });
    const e = expectConfigError(() => unpackAny(badValue, 'x'), { fieldPath: 'x.value', includes: [`cannot parse xds.type.v3.TypedStruct value as ${FAULT}`] });
    assert.ok(e instanceof ConfigError);
    const garbage = create(messageSchema('google.protobuf.Any'), { typeUrl: nameToTypeUrl(FAULT), value: new Uint8Array([0xff, 0xff, 0xff]) }) as unknown as Any;
    expectConfigError(() => unpackAny(garbage, 'g'), { includes: [`cannot decode ${FAULT}`] });
  });
});

describe('descriptor_pool', () => {
  const bytes = (): Uint8Array => {
    const path = new URL('../../../generated/envoy_api.binpb', import.meta.url);
    return readFileSync(path);
  };

  test('builds only the files a lookup needs', () => {
    const pool = new DescriptorPool(bytes());
    assert.equal(pool.builtFileCount(), 0);
    const b = pool.getMessage('envoy.config.bootstrap.v3.Bootstrap');
    assert.ok(b !== undefined);
    const built = pool.builtFileCount();
    assert.ok(built > 20 && built < 150, `built ${built} files`);
    // The same descriptor objects are returned again, and shared across files.
    assert.equal(pool.getMessage('envoy.config.bootstrap.v3.Bootstrap'), b);
    const cluster = pool.getMessage('envoy.config.cluster.v3.Cluster');
    const viaField = b.fields.find((f) => f.name === 'static_resources')?.message?.fields.find((f) => f.name === 'clusters')?.message;
    assert.equal(viaField, cluster);
  });

  test('agrees with a registry built from the whole set', () => {
    const pool = new DescriptorPool(bytes());
    const set = fromBinary(FileDescriptorSetSchema, bytes());
    const names = new Set([...pool.typeNames()]);
    let count = 0;
    for (const f of set.file) {
      const pkg = f.package === '' ? '' : `${f.package}.`;
      for (const m of f.messageType) {
        assert.ok(names.has(pkg + m.name), pkg + m.name);
        count++;
      }
      for (const e of f.enumType) assert.ok(names.has(pkg + e.name), pkg + e.name);
    }
    assert.ok(count > 500);
    assert.equal(pool.getEnum('envoy.config.core.v3.RoutingPriority')?.values.length, 2);
    assert.equal(pool.getMessage('envoy.config.core.v3.RoutingPriority'), undefined);
    assert.equal(pool.get('nope.Nope'), undefined);
    assert.equal(pool.getFile('envoy/config/core/v3/base.proto')?.proto.name, 'envoy/config/core/v3/base.proto');
    assert.equal(pool.getService('envoy.service.discovery.v3.AggregatedDiscoveryService')?.methods.length, 2);
  });

  test('extensions by number, and options read through them', () => {
    const pool = new DescriptorPool(bytes());
    const fieldOptions = pool.getMessage('google.protobuf.FieldOptions');
    assert.ok(fieldOptions !== undefined);
    const rules = pool.getExtensionFor(fieldOptions, 1071);
    assert.equal(rules?.typeName, 'validate.rules');
    const nameField = pool.getMessage('envoy.config.cluster.v3.Cluster')?.fields.find((f) => f.name === 'name');
    assert.ok(nameField !== undefined && rules !== undefined);
    const value = getOption(nameField, rules) as unknown as { type: { case: string } };
    assert.equal(value.type.case, 'string');
  });

  test('messages built by the pool round-trip through binary', () => {
    const pool = new DescriptorPool(bytes());
    const schema = pool.getMessage('envoy.config.cluster.v3.Cluster');
    assert.ok(schema !== undefined);
    const c = fromJson(schema, { name: 'c', connect_timeout: '1s', lb_policy: 'RANDOM' }, { registry: pool });
    const again = fromBinary(schema, toBinary(schema, c));
    assert.equal((again as unknown as { name: string }).name, 'c');
  });
});
