/**
 * The extension registry, after Envoy's `Registry::FactoryRegistry`
 * (envoy/registry/registry.h): factories grouped by category and found by
 * the type of their config (`typed_config`'s "@type") or by name.
 *
 * - Nothing registers itself on import: built-ins are registered by an
 *   explicit call (src/extensions/index.ts), plugins likewise.
 * - A duplicate name, or a config type claimed by two factories of one
 *   category, is a startup error.
 * - Deprecated names (a factory's `legacyNames`, and Envoy's table of old
 *   `envoy.*` short names) resolve with a warning.
 * - Tests swap a factory with `replaceForTest(factory)`, which returns the
 *   function that restores the previous state (Envoy's `InjectFactory`).
 */
import { create, fromJson, toJson, type Message } from '@bufbuild/protobuf';
import type { Any } from '@bufbuild/protobuf/wkt';
import type { FactoryCategory, TypedFactory } from '../envoy/config/typed_config.js';
import { ConfigError, type PositionLookup } from './config_error.js';
import { fieldChild } from './field_path.js';
import { canonicalExtensionName } from './legacy_v2.js';
import { validateMessage } from './pgv_validator.js';
import {
  effectiveTypeName,
  messageSchema,
  STRUCT_TYPE,
  typeRegistry,
  typeUrlToName,
  unpackAny,
} from './type_registry.js';

/**
 * Config types that say nothing about which extension they configure and so
 * are never indexed by type: several factories may take an Empty, and a
 * Struct / TypedStruct is untyped (v2-style) config.
 */
const UNTYPED_CONFIG_TYPES = new Set([
  'google.protobuf.Empty',
  STRUCT_TYPE,
  'udpa.type.v1.TypedStruct',
  'xds.type.v3.TypedStruct',
]);

interface CategoryFactories {
  readonly byName: Map<string, TypedFactory>;
  readonly byType: Map<string, TypedFactory>;
  /** legacy name → canonical name, from factories' `legacyNames`. */
  readonly legacy: Map<string, string>;
}

let registry = new Map<FactoryCategory, CategoryFactories>();

function categoryOf(category: FactoryCategory): CategoryFactories {
  let c = registry.get(category);
  if (c === undefined) {
    c = { byName: new Map(), byType: new Map(), legacy: new Map() };
    registry.set(category, c);
  }
  return c;
}

/** Registers a factory; throws on a duplicate name or config type in its category. */
export function registerFactory(factory: TypedFactory): void {
  const c = categoryOf(factory.category);
  const names = [factory.name, ...(factory.legacyNames ?? [])];
  for (const n of names) {
    const clash = c.byName.get(n) ?? (c.legacy.has(n) ? c.byName.get(c.legacy.get(n) ?? '') : undefined);
    if (clash !== undefined) {
      throw new Error(`double registration for name "${n}" in ${factory.category} (by "${clash.name}" and "${factory.name}")`);
    }
  }
  for (const t of factory.configTypes) {
    if (UNTYPED_CONFIG_TYPES.has(t)) continue;
    const clash = c.byType.get(t);
    if (clash !== undefined) {
      throw new Error(`double registration for config type "${t}" in ${factory.category} (by "${clash.name}" and "${factory.name}")`);
    }
  }
  c.byName.set(factory.name, factory);
  for (const n of factory.legacyNames ?? []) c.legacy.set(n, factory.name);
  for (const t of factory.configTypes) if (!UNTYPED_CONFIG_TYPES.has(t)) c.byType.set(t, factory);
}

function unregister(factory: TypedFactory): void {
  const c = registry.get(factory.category);
  if (c === undefined) return;
  if (c.byName.get(factory.name) === factory) c.byName.delete(factory.name);
  for (const n of factory.legacyNames ?? []) if (c.legacy.get(n) === factory.name) c.legacy.delete(n);
  for (const t of factory.configTypes) if (c.byType.get(t) === factory) c.byType.delete(t);
}

/**
 * The factory whose config type is `typeNameOrUrl` (a full message name or a
 * type URL) in `category`, or undefined. `F` is the category's factory
 * interface, e.g. `getFactoryByType<NamedHttpFilterConfigFactory>('envoy.filters.http', ...)`.
 */
export function getFactoryByType<F extends TypedFactory = TypedFactory>(
  category: F['category'],
  typeNameOrUrl: string,
): F | undefined {
  return registry.get(category)?.byType.get(typeUrlToName(typeNameOrUrl)) as F | undefined;
}

/**
 * The factory named `name` in `category`, or undefined. A deprecated name
 * resolves to its canonical factory and calls `onLegacyName(canonical)`.
 */
export function getFactoryByName<F extends TypedFactory = TypedFactory>(
  category: F['category'],
  name: string,
  onLegacyName?: (canonical: string) => void,
): F | undefined {
  const c = registry.get(category);
  if (c === undefined) return undefined;
  const direct = c.byName.get(name);
  if (direct !== undefined) return direct as F;
  const canonical = c.legacy.get(name) ?? canonicalExtensionName(name, category);
  if (canonical === undefined) return undefined;
  const f = c.byName.get(canonical);
  if (f !== undefined) onLegacyName?.(canonical);
  return f as F | undefined;
}

/** Registered factories (of one category, or all), sorted by name. */
export function registeredFactories(category?: FactoryCategory): TypedFactory[] {
  const out: TypedFactory[] = [];
  for (const [cat, c] of registry) {
    if (category === undefined || cat === category) out.push(...c.byName.values());
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** What resolveTypedConfig reports to (a FactoryContext fits). */
export interface ResolveContext {
  warn?(path: string, message: string): void;
  readonly positions?: PositionLookup;
}

/** The `name`/`typed_config` pair of Filter, HttpFilter, AccessLog, TransportSocket, TypedExtensionConfig... */
export interface TypedExtensionRef {
  readonly name: string;
  readonly typedConfig?: Any | undefined;
  /** HttpFilter.is_optional: an unknown extension is skipped instead of failing. */
  readonly isOptional?: boolean;
}

export interface ResolvedExtension<F extends TypedFactory = TypedFactory> {
  readonly factory: F;
  /** The unpacked, PGV-validated config message (the default message when typed_config is absent). */
  readonly config: Message;
}

/**
 * Finds the factory for an extension reference and unpacks its config, as
 * Envoy's `Config::Utility::getAndCheckFactory` + `translateOpaqueConfig` +
 * `downcastAndValidate`:
 *
 * 1. by the type of `typed_config` (a TypedStruct is unwrapped to its
 *    `type_url`), then
 * 2. by `name` (deprecated names resolve with a warning); a factory found by
 *    name must accept the given type, if any.
 *
 * Without `typed_config` the config is the factory's first config type with
 * all defaults. An unknown extension is a ConfigError naming `path` and
 * listing what is registered in the category, unless `isOptional` (then a
 * warning, and null). `F` is the category's factory interface:
 *
 *   resolveTypedConfig<NamedHttpFilterConfigFactory>('envoy.filters.http', {name, typedConfig}, path, context)
 */
export function resolveTypedConfig<F extends TypedFactory = TypedFactory>(
  category: F['category'],
  ref: TypedExtensionRef,
  path: string,
  ctx: ResolveContext = {},
): ResolvedExtension<F> | null {
  const typedPath = fieldChild(path, 'typed_config');
  const where = (p: string): ReturnType<PositionLookup['lookup']> => ctx.positions?.lookup(p);
  const any = ref.typedConfig !== undefined && ref.typedConfig.typeUrl !== '' ? ref.typedConfig : undefined;
  const typeName = any !== undefined ? effectiveTypeName(any) : undefined;
  const untyped = typeName === undefined || UNTYPED_CONFIG_TYPES.has(typeName);

  let factory: F | undefined = untyped ? undefined : getFactoryByType<F>(category, typeName);
  if (factory === undefined) {
    factory = getFactoryByName<F>(category, ref.name, (canonical) =>
      ctx.warn?.(fieldChild(path, 'name'), `"${ref.name}" is a deprecated extension name; write name: ${canonical}`),
    );
    if (factory !== undefined && !untyped && typeName !== undefined && !factory.configTypes.includes(typeName)) {
      throw new ConfigError(
        typedPath,
        `"${factory.name}" takes ${factory.configTypes.join(' or ')} as its config, but typed_config is ${typeName}`,
        where(typedPath),
      );
    }
  }
  if (factory === undefined) {
    const known = registeredFactories(category).map((f) => f.name);
    const what = `no ${category} extension is registered for name "${ref.name}"${typeName !== undefined ? ` or type ${typeName}` : ''}`;
    if (ref.isOptional === true) {
      ctx.warn?.(path, `${what}; skipped because is_optional is set`);
      return null;
    }
    throw new ConfigError(path, `${what} (registered: ${known.length > 0 ? known.join(', ') : 'none'})`, where(path));
  }

  let config: Message;
  const defaultType = factory.configTypes[0];
  if (any === undefined) {
    if (defaultType === undefined) throw new Error(`factory "${factory.name}" declares no config type`);
    config = create(messageSchema(defaultType));
  } else if (typeName === STRUCT_TYPE) {
    // v2-style untyped config: a Struct read as the factory's config type.
    if (defaultType === undefined) throw new Error(`factory "${factory.name}" declares no config type`);
    const struct = unpackAny(any, typedPath, ctx.positions);
    try {
      const json = toJson(messageSchema(STRUCT_TYPE), struct);
      config = fromJson(messageSchema(defaultType), json, { registry: typeRegistry() });
    } catch (e) {
      throw new ConfigError(typedPath, `cannot read the Struct config as ${defaultType}: ${(e as Error).message}`, where(typedPath));
    }
  } else {
    config = unpackAny(any, typedPath, ctx.positions);
  }
  validateMessage(config, typedPath, ctx.positions);
  return { factory, config };
}

/**
 * Registers `factory` in place of any factory with the same name or config
 * types, for a test. Returns the function that restores what was there.
 */
export function replaceForTest(factory: TypedFactory): () => void {
  const c = categoryOf(factory.category);
  const displaced = new Set<TypedFactory>();
  const old = c.byName.get(factory.name);
  if (old !== undefined) displaced.add(old);
  for (const t of factory.configTypes) {
    const f = c.byType.get(t);
    if (f !== undefined) displaced.add(f);
  }
  for (const n of factory.legacyNames ?? []) {
    const f = c.byName.get(c.legacy.get(n) ?? n);
    if (f !== undefined) displaced.add(f);
  }
  for (const f of displaced) unregister(f);
  registerFactory(factory);
  return () => {
    unregister(factory);
    for (const f of displaced) registerFactory(f);
  };
}

/**
 * Empties the registry for a test and returns the function that puts the
 * previous contents back. Lets a test file register its own fakes without
 * seeing (or leaving behind) anyone else's.
 */
export function isolateRegistryForTest(): () => void {
  const saved = registry;
  registry = new Map();
  return () => {
    registry = saved;
  };
}
