/**
 * Factory for `envoy.filters.network.http_connection_manager`: validates the
 * HttpConnectionManager config once and compiles it (routes, HTTP filters,
 * access logs, timeouts, stats) into a ConnectionManagerConfig shared by
 * every connection of the filter chain.
 */
import type { Message } from '@bufbuild/protobuf';
import type { HttpConnectionManager } from '../../../../generated/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js';
import type { NamedHttpFilterConfigFactory, NamedNetworkFilterConfigFactory } from '../../../../envoy/config/typed_config.js';
import type { FilterFactoryCb } from '../../../../envoy/http/filter.js';
import type { NetworkFilterFactoryCb } from '../../../../envoy/network/filter.js';
import type { FactoryContext } from '../../../../envoy/server/factory_context.js';
import type { AccessLogInstance } from '../../../../envoy/access_log/access_log.js';
import type { RouteTable } from '../../../../envoy/router/router.js';
import { ConfigError, withPathPrefix } from '../../../../config/config_error.js';
import { durationToMs } from '../../../../config/well_known.js';
import { resolveTypedConfig } from '../../../../config/registry.js';
import { compileRouteSpecificFilterConfig } from './route_specific_filter_config.js';
import { ServerHeaderTransformation, type CodecType, type ConnectionManagerConfig, type UpgradeSetting } from '../../../../http/conn_manager_config.js';
import { ConnectionManagerImpl } from '../../../../http/conn_manager_impl.js';
import type { ClientCertDetail, ForwardClientCertConfig, ForwardClientCertType } from '../../../../http/forward_client_cert.js';
import { createHttpConnManagerListenerStats, createHttpConnManagerStats } from '../../../../stats/http_conn_manager_stats.js';
import { compileRouteTable, type RouteTableOptions } from '../../../../router/config_impl.js';
import { routeConfigProviderManagerFor } from '../../../../router/route_config_provider_manager.js';
import { compileFormat } from '../../../../logging/substitution_formatter.js';
import { createAccessLogs } from '../../../access_loggers/common/access_log_builder.js';
import { createServerCodec, type ServerCodecSettings } from './codec_factory.js';
import { createHttp2CodecStats } from '../../../../http/codec/http2/codec_stats.js';
import { DEFAULT_HTTP2_SERVER_SETTINGS } from '../../../../http/codec/http2/server_connection.js';
import { CodecTypeValue, ServerHeaderTransformationValue } from './hcm_enums.js';

const HCM_TYPE = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

/** Compiles the HTTP filter list, checking that the last one (and only it) is terminal, as Envoy does. */
function compileHttpFilters(
  filters: HttpConnectionManager['httpFilters'], path: string, statPrefix: string, context: FactoryContext,
): FilterFactoryCb[] {
  const out: FilterFactoryCb[] = [];
  filters.forEach((entry, i) => {
    const p = `${path}[${i}]`;
    if (entry.disabled) return;
    const any = entry.configType.case === 'typedConfig' ? entry.configType.value : undefined;
    const resolved = resolveTypedConfig<NamedHttpFilterConfigFactory>('envoy.filters.http', { name: entry.name, typedConfig: any, isOptional: entry.isOptional }, p, context);
    if (resolved === null) return; // optional and unknown: skipped, as Envoy does
    const { factory, config } = resolved;
    const last = i === filters.length - 1;
    if (factory.isTerminalFilter && !last) {
      throw new ConfigError(p, `terminal filter named ${entry.name} of type ${factory.name} must be the last filter in a http filter chain.`);
    }
    if (!factory.isTerminalFilter && last) {
      throw new ConfigError(p, `non-terminal filter named ${entry.name} of type ${factory.name} is the last filter in a http filter chain.`);
    }
    out.push(withPathPrefix(`${p}.typed_config`, () => factory.createFilterFactory(config, statPrefix, context)));
  });
  return out;
}

/**
 * How a RouteConfiguration of this HCM is compiled (inline, or each RDS
 * version). Clusters are checked against the cluster manager at compile
 * time; `validate_clusters` unset means `validateByDefault`. No host
 * normalisation options: the HCM normalises :authority itself, once.
 */
function routeTableOptions(context: FactoryContext, validateByDefault: boolean): RouteTableOptions {
  return {
    formatterFactory: (fmt: string) => compileFormat(fmt, { omitEmptyValues: true }),
    configDir: context.configDir,
    compilePerFilterConfig: (filterName, any) => compileRouteSpecificFilterConfig(filterName, any, context),
    validateClustersDefault: validateByDefault,
    validateClusters: (names: ReadonlySet<string>) => {
      const known = new Set(context.clusterManager.clusterNames());
      for (const n of names) {
        if (!known.has(n)) throw new ConfigError('', `route: unknown cluster '${n}'`);
      }
    },
  };
}

export function compileConnectionManagerConfig(hcm: HttpConnectionManager, context: FactoryContext, basePath: string): ConnectionManagerConfig {
  const path = basePath;
  const at = (field: string): string => (path === '' ? field : `${path}.${field}`);
  const statPrefix = hcm.statPrefix;
  const httpPrefix = `http.${statPrefix}.`;
  const stats = createHttpConnManagerStats(context.scope, statPrefix);
  const listenerStats = context.listener === null ? null : createHttpConnManagerListenerStats(context.listenerScope, statPrefix);

  if (hcm.codecType === CodecTypeValue.HTTP3) {
    throw new ConfigError(at('codec_type'), 'codec_type HTTP3 is not supported yet; use AUTO, HTTP1 or HTTP2');
  }
  const codecType: CodecType = hcm.codecType === CodecTypeValue.HTTP1 ? 'http1' : hcm.codecType === CodecTypeValue.HTTP2 ? 'http2' : 'auto';

  let routeTable: () => RouteTable | null;
  const rs = hcm.routeSpecifier;
  if (rs.case === 'routeConfig') {
    const table = withPathPrefix(at('route_config'), () => compileRouteTable(rs.value, routeTableOptions(context, true)));
    routeTable = () => table;
  } else if (rs.case === 'rds') {
    const sf = context.subscriptionFactory;
    if (sf === undefined) {
      throw new ConfigError(at('rds'), 'rds requires dynamic_resources / an xDS subscription factory, and none is configured; use an inline route_config');
    }
    const provider = routeConfigProviderManagerFor(sf).createRdsRouteConfigProvider(rs.value, {
      scope: context.scope,
      statPrefix,
      // RDS route tables are compiled as inline ones, but validate_clusters defaults to false (Envoy).
      options: routeTableOptions(context, false),
      initManager: context.initManager,
      path: at('rds'),
    });
    context.addListenerDestroyCb?.(() => provider.release());
    routeTable = () => provider.routeTable();
  } else if (rs.case === 'scopedRoutes') {
    throw new ConfigError(at('scoped_routes'), 'scoped_routes is not supported yet; use an inline route_config or rds');
  } else {
    throw new ConfigError(path, 'one of route_config, rds or scoped_routes is required');
  }

  let httpFilters = hcm.httpFilters;
  if (httpFilters.length === 0) {
    // Tutorial fragments (seed 000) omit the list; without a terminal filter no request could be answered.
    context.warn(at('http_filters'), 'http_filters is empty; adding envoy.filters.http.router. Write it explicitly: http_filters: [{name: envoy.filters.http.router}]');
    httpFilters = [{ $typeName: 'envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter', name: 'envoy.filters.http.router', configType: { case: undefined }, isOptional: false, disabled: false }];
  }
  const filterFactories = compileHttpFilters(httpFilters, at('http_filters'), httpPrefix, context);
  const upgrades: UpgradeSetting[] = hcm.upgradeConfigs.map((u, i) => ({
    upgradeType: u.upgradeType.toLowerCase(),
    enabled: u.enabled ?? true,
    filterFactories: u.filters.length > 0
      ? compileHttpFilters(u.filters, at(`upgrade_configs[${i}].filters`), httpPrefix, context)
      : null,
  }));
  const accessLogs: AccessLogInstance[] = createAccessLogs(hcm.accessLog, at('access_log'), context);

  const common = hcm.commonHttpProtocolOptions;
  const h1 = hcm.httpProtocolOptions;
  const bufferLimit = context.listener?.perConnectionBufferLimitBytes ?? 1024 * 1024;
  const settings = {
    maxRequestHeadersKb: hcm.maxRequestHeadersKb ?? 60,
    maxRequestHeadersCount: common?.maxHeadersCount ?? 100,
    acceptHttp10: h1?.acceptHttp10 ?? false,
    defaultHostForHttp10: h1?.defaultHostForHttp10 ?? '',
    allowAbsoluteUrl: h1?.allowAbsoluteUrl ?? true,
    enableTrailers: h1?.enableTrailers ?? false,
    headersWithUnderscoresAction: (['allow', 'reject_request', 'drop_header'] as const)[common?.headersWithUnderscoresAction ?? 0] ?? 'allow',
    bufferLimit,
  };
  const h2 = hcm.http2ProtocolOptions;
  const codecSettings: ServerCodecSettings = {
    http1: settings,
    http2: {
      maxConcurrentStreams: h2?.maxConcurrentStreams ?? DEFAULT_HTTP2_SERVER_SETTINGS.maxConcurrentStreams,
      initialStreamWindowSize: h2?.initialStreamWindowSize ?? DEFAULT_HTTP2_SERVER_SETTINGS.initialStreamWindowSize,
      initialConnectionWindowSize: h2?.initialConnectionWindowSize ?? DEFAULT_HTTP2_SERVER_SETTINGS.initialConnectionWindowSize,
      hpackTableSize: h2?.hpackTableSize ?? DEFAULT_HTTP2_SERVER_SETTINGS.hpackTableSize,
      maxRequestHeadersKb: settings.maxRequestHeadersKb,
      maxRequestHeadersCount: settings.maxRequestHeadersCount,
      bufferLimit,
    },
    http2Stats: createHttp2CodecStats(context.scope),
  };
  const sht = hcm.serverHeaderTransformation === ServerHeaderTransformationValue.APPEND_IF_ABSENT ? ServerHeaderTransformation.AppendIfAbsent
    : hcm.serverHeaderTransformation === ServerHeaderTransformationValue.PASS_THROUGH ? ServerHeaderTransformation.PassThrough
    : ServerHeaderTransformation.Overwrite;

  return {
    statPrefix,
    stats,
    listenerStats,
    codecType,
    createCodec: (protocol, connection, callbacks) => createServerCodec(protocol, connection, callbacks, codecSettings),
    routeTable,
    filterFactories,
    upgrades,
    accessLogs,
    serverName: hcm.serverName !== '' ? hcm.serverName : 'envoy',
    serverHeaderTransformation: sht,
    useRemoteAddress: hcm.useRemoteAddress ?? false,
    xffNumTrustedHops: hcm.xffNumTrustedHops,
    skipXffAppend: hcm.skipXffAppend,
    via: hcm.via,
    generateRequestId: hcm.generateRequestId ?? true,
    preserveExternalRequestId: hcm.preserveExternalRequestId,
    alwaysSetRequestIdInResponse: hcm.alwaysSetRequestIdInResponse,
    idleTimeoutMs: durationToMs(common?.idleTimeout, 3_600_000),
    requestTimeoutMs: durationToMs(hcm.requestTimeout, 0),
    requestHeadersTimeoutMs: durationToMs(hcm.requestHeadersTimeout, 0),
    streamIdleTimeoutMs: durationToMs(hcm.streamIdleTimeout, 300_000),
    maxConnectionDurationMs: durationToMs(common?.maxConnectionDuration, 0),
    proxy100Continue: hcm.proxy100Continue,
    stripMatchingHostPort: hcm.stripMatchingHostPort,
    stripAnyHostPort: hcm.stripPortMode.case === 'stripAnyHostPort' && hcm.stripPortMode.value,
    stripTrailingHostDot: hcm.stripTrailingHostDot,
    normalizePath: hcm.normalizePath ?? false,
    mergeSlashes: hcm.mergeSlashes,
    bufferLimit,
    forwardClientCert: forwardClientCertConfig(hcm),
  };
}

function forwardClientCertConfig(hcm: HttpConnectionManager): ForwardClientCertConfig {
  const d = hcm.setCurrentClientCertDetails;
  const details: ClientCertDetail[] = [];
  if (d?.subject === true) details.push('Subject');
  if (d?.cert === true) details.push('Cert');
  if (d?.chain === true) details.push('Chain');
  if (d?.dns === true) details.push('DNS');
  if (d?.uri === true) details.push('URI');
  return { type: hcm.forwardClientCertDetails as number as ForwardClientCertType, details };
}

export const httpConnectionManagerFactory: NamedNetworkFilterConfigFactory = {
  category: 'envoy.filters.network',
  name: 'envoy.filters.network.http_connection_manager',
  configTypes: [HCM_TYPE],
  legacyNames: ['envoy.http_connection_manager'],
  isTerminalFilter: true,
  createFilterFactory(config: Message, context: FactoryContext): NetworkFilterFactoryCb {
    const cmConfig = compileConnectionManagerConfig(config as HttpConnectionManager, context, '');
    return (manager) => manager.addReadFilter(new ConnectionManagerImpl(cmConfig, context.drainDecision));
  },
};
