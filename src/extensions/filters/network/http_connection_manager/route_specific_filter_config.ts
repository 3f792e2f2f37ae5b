/**
 * Compiles one `typed_per_filter_config` entry of a route, virtual host or
 * route configuration with the HTTP filter factory it is for, as Envoy's
 * `PerFilterConfigs` (source/common/router/config_impl.cc) does: the factory
 * is found by the map key (the filter's name, e.g.
 * `envoy.filters.http.local_ratelimit`), else by the config's type; the
 * config is unpacked, PGV-validated and handed to the factory's
 * `createRouteSpecificFilterConfig`. What that returns is what a filter later
 * gets from `route.perFilterConfig(name)`.
 *
 * A filter without route-specific config support (or one not registered)
 * keeps the raw `Any`, as before this existed.
 */
import type { Any } from '@bufbuild/protobuf/wkt';
import type { NamedHttpFilterConfigFactory } from '../../../../envoy/config/typed_config.js';
import type { FactoryContext } from '../../../../envoy/server/factory_context.js';
import { ConfigError } from '../../../../config/config_error.js';
import { getFactoryByName, getFactoryByType } from '../../../../config/registry.js';
import { validateMessage } from '../../../../config/pgv_validator.js';
import { effectiveTypeName, unpackAny } from '../../../../config/type_registry.js';

export function compileRouteSpecificFilterConfig(filterName: string, any: Any, context: FactoryContext): unknown {
  const factory = getFactoryByName<NamedHttpFilterConfigFactory>('envoy.filters.http', filterName)
    ?? getFactoryByType<NamedHttpFilterConfigFactory>('envoy.filters.http', effectiveTypeName(any));
  if (factory?.createRouteSpecificFilterConfig === undefined) return any;
  try {
    const message = unpackAny(any, '');
    validateMessage(message, '');
    return factory.createRouteSpecificFilterConfig(message, context);
  } catch (e) {
    // A plain ConfigError: the route compiler prefixes it with the entry's path
    // (it passes its own RouteConfigErrors through unchanged, without a prefix).
    if (e instanceof ConfigError) throw new ConfigError(e.fieldPath, e.detail);
    throw e;
  }
}
