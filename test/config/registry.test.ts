/**
 * The extension registry: lookup by config type then name, duplicates,
 * deprecated names, resolving typed_config, and test replacement.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { fromJson, type JsonObject } from '@bufbuild/protobuf';
import type { Any } from '@bufbuild/protobuf/wkt';
import type { FactoryCategory, NamedHttpFilterConfigFactory, TypedFactory } from '../../src/envoy/config/typed_config.js';
import {
  getFactoryByName,
  getFactoryByType,
  isolateRegistryForTest,
  registerFactory,
  registeredFactories,
  replaceForTest,
  resolveTypedConfig,
} from '../../src/config/registry.js';
import { messageSchema, typeRegistry } from '../../src/config/type_registry.js';
import { expectConfigError } from './config_test_util.js';

const ROUTER = 'envoy.extensions.filters.http.router.v3.Router';
const FAULT = 'envoy.extensions.filters.http.fault.v3.HTTPFault';
const HCM = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

function factory(category: FactoryCategory, name: string, configTypes: string[], legacyNames?: string[]): TypedFactory {
  return { category, name, configTypes, ...(legacyNames !== undefined ? { legacyNames } : {}) };
}

function anyOf(json: JsonObject): Any {
  return fromJson(messageSchema('google.protobuf.Any'), json, { registry: typeRegistry() }) as unknown as Any;
}

let restore: () => void = () => {};
beforeEach(() => {
  restore = isolateRegistryForTest();
});
afterEach(() => restore());

describe('registry: registration and lookup', () => {
  test('by name and by config type (full name or type URL)', () => {
    const router = factory('envoy.filters.http', 'envoy.filters.http.router', [ROUTER]);
    registerFactory(router);
    assert.equal(getFactoryByName('envoy.filters.http', 'envoy.filters.http.router'), router);
    assert.equal(getFactoryByType('envoy.filters.http', ROUTER), router);
    assert.equal(getFactoryByType('envoy.filters.http', `type.googleapis.com/${ROUTER}`), router);
    assert.equal(getFactoryByName('envoy.filters.network', 'envoy.filters.http.router'), undefined); // other category
    assert.equal(getFactoryByType('envoy.filters.http', FAULT), undefined);
    assert.equal(getFactoryByName('envoy.filters.http', 'nope'), undefined);
  });

  test('typed lookups return the category interface', () => {
    registerFactory(factory('envoy.filters.http', 'envoy.filters.http.router', [ROUTER]));
    const f = getFactoryByName<NamedHttpFilterConfigFactory>('envoy.filters.http', 'envoy.filters.http.router');
    assert.equal(f?.category, 'envoy.filters.http');
  });

  test('a duplicate name or config type in one category is an error; other categories are separate', () => {
    registerFactory(factory('envoy.filters.http', 'a', [ROUTER]));
    assert.throws(() => registerFactory(factory('envoy.filters.http', 'a', [FAULT])), /double registration for name "a" in envoy.filters.http/);
    assert.throws(() => registerFactory(factory('envoy.filters.http', 'b', [ROUTER])), new RegExp(`double registration for config type "${ROUTER}"`));
    registerFactory(factory('envoy.filters.network', 'a', [ROUTER]));
    assert.equal(registeredFactories().length, 2);
  });

  test('a legacy name may not clash with a registered name, nor the other way round', () => {
    registerFactory(factory('envoy.filters.http', 'envoy.filters.http.fault', [FAULT], ['envoy.fault']));
    assert.throws(() => registerFactory(factory('envoy.filters.http', 'envoy.fault', [])), /double registration for name "envoy.fault"/);
    assert.throws(() => registerFactory(factory('envoy.filters.http', 'x', [], ['envoy.filters.http.fault'])), /double registration/);
  });

  test('untyped config types (Empty, Struct, TypedStruct) may be shared', () => {
    registerFactory(factory('envoy.filters.http', 'a', ['google.protobuf.Empty']));
    registerFactory(factory('envoy.filters.http', 'b', ['google.protobuf.Empty']));
    assert.equal(getFactoryByType('envoy.filters.http', 'google.protobuf.Empty'), undefined);
  });

  test('deprecated names resolve, with a callback: a factory\'s own, and Envoy\'s table', () => {
    registerFactory(factory('envoy.filters.http', 'acme.filters.http.thing', [FAULT], ['acme.thing']));
    registerFactory(factory('envoy.filters.http', 'envoy.filters.http.router', [ROUTER]));
    const seen: string[] = [];
    assert.equal(getFactoryByName('envoy.filters.http', 'acme.thing', (c) => seen.push(c))?.name, 'acme.filters.http.thing');
    assert.equal(getFactoryByName('envoy.filters.http', 'envoy.router', (c) => seen.push(c))?.name, 'envoy.filters.http.router');
    assert.deepEqual(seen, ['acme.filters.http.thing', 'envoy.filters.http.router']);
    assert.equal(getFactoryByName('envoy.filters.network', 'envoy.router'), undefined);
  });

  test('registeredFactories lists by category, sorted', () => {
    registerFactory(factory('envoy.filters.http', 'z', []));
    registerFactory(factory('envoy.filters.http', 'a', []));
    registerFactory(factory('envoy.access_loggers', 'm', []));
    assert.deepEqual(
      registeredFactories('envoy.filters.http').map((f) => f.name),
      ['a', 'z'],
    );
    assert.deepEqual(
      registeredFactories().map((f) => f.name),
      ['a', 'm', 'z'],
    );
  });
});

describe('registry: resolveTypedConfig', () => {
  const router = (): TypedFactory => factory('envoy.filters.http', 'envoy.filters.http.router', [ROUTER]);
  const fault = (): TypedFactory => factory('envoy.filters.http', 'envoy.filters.http.fault', [FAULT]);

  test('the type of typed_config wins over the name', () => {
    registerFactory(router());
    registerFactory(fault());
    const r = resolveTypedConfig('envoy.filters.http', { name: 'my-fault', typedConfig: anyOf({ '@type': `type.googleapis.com/${FAULT}`, max_active_faults: 3 }) }, 'f');
    assert.equal(r?.factory.name, 'envoy.filters.http.fault');
    assert.equal(r?.config.$typeName, FAULT);
    assert.equal((r?.config as unknown as { maxActiveFaults: number }).maxActiveFaults, 3);
  });

  test('a TypedStruct (xds and udpa) is unwrapped to the type it names', () => {
    registerFactory(fault());
    for (const ts of ['xds.type.v3.TypedStruct', 'udpa.type.v1.TypedStruct']) {
      const any = anyOf({ '@type': `type.googleapis.com/${ts}`, type_url: `type.googleapis.com/${FAULT}`, value: { max_active_faults: 7 } });
      const r = resolveTypedConfig('envoy.filters.http', { name: 'whatever', typedConfig: any }, 'f');
      assert.equal(r?.factory.name, 'envoy.filters.http.fault', ts);
      assert.equal((r?.config as unknown as { maxActiveFaults: number }).maxActiveFaults, 7);
    }
  });

  test('without typed_config: by name, with the default config message', () => {
    registerFactory(router());
    const r = resolveTypedConfig('envoy.filters.http', { name: 'envoy.filters.http.router' }, 'f');
    assert.equal(r?.config.$typeName, ROUTER);
  });

  test('a deprecated name resolves with a warning at the name', () => {
    registerFactory(router());
    const warnings: string[] = [];
    const r = resolveTypedConfig('envoy.filters.http', { name: 'envoy.router' }, 'http_filters[1]', { warn: (p, m) => warnings.push(`${p}: ${m}`) });
    assert.equal(r?.factory.name, 'envoy.filters.http.router');
    assert.deepEqual(warnings, ['http_filters[1].name: "envoy.router" is a deprecated extension name; write name: envoy.filters.http.router']);
  });

  test('unknown: a ConfigError naming the path, the type and what is registered', () => {
    registerFactory(router());
    registerFactory(fault());
    expectConfigError(
      () =>
        resolveTypedConfig('envoy.filters.http', { name: 'acme.auth', typedConfig: anyOf({ '@type': `type.googleapis.com/${HCM}`, stat_prefix: 'x' }) }, 'http_filters[0]', {
          positions: { lookup: (p) => (p === 'http_filters[0]' ? { file: 'e.yaml', line: 4, column: 5 } : undefined) },
        }),
      {
        file: 'e.yaml',
        line: 4,
        fieldPath: 'http_filters[0]',
        includes: [
          `no envoy.filters.http extension is registered for name "acme.auth" or type ${HCM}`,
          'registered: envoy.filters.http.fault, envoy.filters.http.router',
        ],
      },
    );
    expectConfigError(() => resolveTypedConfig('envoy.filters.network', { name: 'x' }, 'p'), { includes: ['(registered: none)'] });
  });

  test('unknown but is_optional: skipped with a warning', () => {
    const warnings: string[] = [];
    const r = resolveTypedConfig('envoy.filters.http', { name: 'acme.auth', isOptional: true }, 'http_filters[2]', { warn: (p, m) => warnings.push(`${p}: ${m}`) });
    assert.equal(r, null);
    assert.match(warnings[0] ?? '', /^http_filters\[2\]: no envoy.filters.http extension .* skipped because is_optional is set$/);
  });

  test('found by name but typed_config is another type', () => {
    registerFactory(router());
    expectConfigError(
      () => resolveTypedConfig('envoy.filters.http', { name: 'envoy.filters.http.router', typedConfig: anyOf({ '@type': `type.googleapis.com/${HCM}`, stat_prefix: 'x' }) }, 'f'),
      { fieldPath: 'f.typed_config', includes: [`"envoy.filters.http.router" takes ${ROUTER} as its config, but typed_config is ${HCM}`] },
    );
  });

  test('the unpacked config is PGV-validated under typed_config', () => {
    registerFactory(factory('envoy.filters.network', 'envoy.filters.network.http_connection_manager', [HCM]));
    expectConfigError(
      () =>
        resolveTypedConfig(
          'envoy.filters.network',
          { name: 'envoy.filters.network.http_connection_manager', typedConfig: anyOf({ '@type': `type.googleapis.com/${HCM}`, rds: { route_config_name: 'r', config_source: { ads: {} } } }) },
          'filters[0]',
        ),
      { fieldPath: 'filters[0].typed_config.stat_prefix', includes: ['value length must be at least 1 characters'] },
    );
  });

  test('a v2-style Struct config is read as the factory\'s config type', () => {
    registerFactory(fault());
    const any = anyOf({ '@type': 'type.googleapis.com/google.protobuf.Struct', value: { max_active_faults: 9 } });
    const r = resolveTypedConfig('envoy.filters.http', { name: 'envoy.filters.http.fault', typedConfig: any }, 'f');
    assert.equal((r?.config as unknown as { maxActiveFaults: number }).maxActiveFaults, 9);
  });
});

describe('registry: replaceForTest', () => {
  test('replaces by name and type, and restores what was there', () => {
    const original = factory('envoy.filters.http', 'envoy.filters.http.router', [ROUTER]);
    registerFactory(original);
    const fake = factory('envoy.filters.http', 'envoy.filters.http.router', [ROUTER]);
    const undo = replaceForTest(fake);
    assert.equal(getFactoryByName('envoy.filters.http', 'envoy.filters.http.router'), fake);
    assert.equal(getFactoryByType('envoy.filters.http', ROUTER), fake);
    undo();
    assert.equal(getFactoryByName('envoy.filters.http', 'envoy.filters.http.router'), original);
    assert.equal(getFactoryByType('envoy.filters.http', ROUTER), original);
  });

  test('a new factory is simply removed again', () => {
    const undo = replaceForTest(factory('envoy.access_loggers', 'test.logger', []));
    assert.equal(registeredFactories('envoy.access_loggers').length, 1);
    undo();
    assert.equal(registeredFactories('envoy.access_loggers').length, 0);
  });
});
