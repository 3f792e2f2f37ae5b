/**
 * Every built-in extension, one line each (grpc-js's index.ts style). Nothing
 * registers itself on import; the server calls registerBuiltinExtensions()
 * once at start-up. Adding an extension = one factory file + one line here.
 */
import { registerFactory, registeredFactories } from '../config/registry.js';
import { registerAccessLoggers } from './access_loggers/index.js';
import { faultFactory } from './filters/http/fault/config.js';
import { grpcStatsFactory } from './filters/http/grpc_stats/config.js';
import { grpcWebFactory } from './filters/http/grpc_web/config.js';
import { healthCheckFilterFactory } from './filters/http/health_check/config.js';
import { localRateLimitFactory } from './filters/http/local_ratelimit/config.js';
import { rateLimitFactory } from './filters/http/ratelimit/config.js';
import { routerFactory } from './filters/http/router/config.js';
import { httpConnectionManagerFactory } from './filters/network/http_connection_manager/config.js';
import { tcpProxyFactory } from './filters/network/tcp_proxy/config.js';
import { networkLocalRateLimitFactory } from './filters/network/local_ratelimit/config.js';
import { tlsInspectorFactory } from './filters/listener/tls_inspector/config.js';
import {
  downstreamRawBufferFactory,
  downstreamTlsFactory,
  upstreamRawBufferFactory,
  upstreamTlsFactory,
} from './transport_sockets/tls/config.js';

let registered = false;

export function registerBuiltinExtensions(): void {
  if (registered || registeredFactories().length > 0) return;
  registered = true;
  // envoy.filters.network
  registerFactory(httpConnectionManagerFactory);
  registerFactory(tcpProxyFactory);
  registerFactory(networkLocalRateLimitFactory);
  // envoy.filters.http
  registerFactory(faultFactory);
  registerFactory(grpcStatsFactory);
  registerFactory(grpcWebFactory);
  registerFactory(healthCheckFilterFactory);
  registerFactory(localRateLimitFactory);
  registerFactory(rateLimitFactory);
  registerFactory(routerFactory);
  // envoy.filters.listener
  registerFactory(tlsInspectorFactory);
  // envoy.transport_sockets.{downstream,upstream}
  registerFactory(downstreamTlsFactory);
  registerFactory(upstreamTlsFactory);
  registerFactory(downstreamRawBufferFactory);
  registerFactory(upstreamRawBufferFactory);
  // envoy.access_loggers
  registerAccessLoggers(registerFactory);
}
