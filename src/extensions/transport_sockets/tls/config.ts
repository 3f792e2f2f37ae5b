/**
 * Factories for `envoy.transport_sockets.tls` (DownstreamTlsContext on
 * filter chains, UpstreamTlsContext on clusters) and
 * `envoy.transport_sockets.raw_buffer`.
 *
 * A TLS factory whose secrets come from SDS is built at once but is not
 * ready until they arrive: see isReady() / ready / initialized on the
 * factory (the hook for listener and cluster warming) and close() to
 * release its SDS subscriptions when the listener or cluster goes away.
 */
import net from 'node:net';
import type { Message } from '@bufbuild/protobuf';
import type {
  DownstreamTransportSocketConfigFactory,
  TransportSocketFactoryContext,
  UpstreamTransportSocketConfigFactory,
} from '../../../envoy/config/typed_config.js';
import type { DownstreamTransportSocketFactory, UpstreamTransportSocketFactory } from '../../../envoy/network/transport_socket.js';
import type { DownstreamTlsContext, UpstreamTlsContext } from '../../../generated/envoy/extensions/transport_sockets/tls/v3/tls_pb.js';
import { ConfigError } from '../../../config/config_error.js';
import { buildTlsContextConfig, type TlsContextConfig } from './context_config.js';
import { createSslStats } from './ssl_stats.js';
import { createSslSocketFactoryStats } from './ssl_socket_factory_stats.js';
import { ServerSslSocketFactory } from './server_ssl_socket.js';
import { ClientSslSocketFactory } from './client_ssl_socket.js';

const DOWNSTREAM_TLS = 'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
const UPSTREAM_TLS = 'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
const RAW_BUFFER = 'envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer';

export const downstreamTlsFactory: DownstreamTransportSocketConfigFactory = {
  category: 'envoy.transport_sockets.downstream',
  name: 'envoy.transport_sockets.tls',
  configTypes: [DOWNSTREAM_TLS],
  createTransportSocketFactory(config: Message, ctx: TransportSocketFactoryContext, _serverNames, path): DownstreamTransportSocketFactory {
    const c = config as DownstreamTlsContext;
    const base = `${path}.typed_config`;
    if (c.sessionTicketKeysType.case !== undefined) {
      ctx.warn(`${base}.${c.sessionTicketKeysType.case === 'sessionTicketKeys' ? 'session_ticket_keys' : 'session_ticket_keys_sds_secret_config'}`, 'session ticket keys are ignored (node manages its own)');
    }
    const cfg = buildTlsContextConfig(c.commonTlsContext, ctx, `${base}.common_tls_context`, true);
    return closingOnError(cfg, () => {
      if (cfg.certificates.length === 0) {
        throw new ConfigError(`${base}.common_tls_context`, 'No TLS certificates found for server context (set tls_certificates or tls_certificate_sds_secret_configs)');
      }
      return new ServerSslSocketFactory(cfg, {
        requireClientCertificate: c.requireClientCertificate ?? false,
        requireSni: c.requireSni ?? false,
      }, createSslStats(ctx.scope), createSslSocketFactoryStats(ctx.scope, 'server'));
    });
  },
};

export const upstreamTlsFactory: UpstreamTransportSocketConfigFactory = {
  category: 'envoy.transport_sockets.upstream',
  name: 'envoy.transport_sockets.tls',
  configTypes: [UPSTREAM_TLS],
  createTransportSocketFactory(config: Message, ctx: TransportSocketFactoryContext, path): UpstreamTransportSocketFactory {
    const c = config as UpstreamTlsContext;
    const base = `${path}.typed_config`;
    const cfg = buildTlsContextConfig(c.commonTlsContext, ctx, `${base}.common_tls_context`, false);
    return closingOnError(cfg, () => {
      if (cfg.certificates.length > 1) {
        throw new ConfigError(`${base}.common_tls_context.tls_certificates`, 'Multiple TLS certificates are not supported for client contexts');
      }
      return new ClientSslSocketFactory(cfg, { sni: c.sni }, createSslStats(ctx.scope), createSslSocketFactoryStats(ctx.scope, 'client'));
    });
  },
};

/** Runs `build`; when it throws, releases what `cfg` holds (SDS subscriptions, watches) first. */
function closingOnError<T>(cfg: TlsContextConfig, build: () => T): T {
  try {
    return build();
  } catch (e) {
    cfg.close();
    throw e;
  }
}

/** Plain TCP downstream: the socket as accepted. */
export const rawBufferDownstream: DownstreamTransportSocketFactory = {
  implementsSecureTransport: false,
  accept(socket, _serverName, onDone) { onDone({ socket, ssl: null }); },
};

/** Plain TCP upstream. */
export const rawBufferUpstream: UpstreamTransportSocketFactory = {
  implementsSecureTransport: false,
  alpnProtocols: [],
  connect(address, port) { return { socket: net.connect({ host: address, port }), readyEvent: 'connect' }; },
  transportFailureReason() { return null; },
  connectionInfo() { return null; },
};

export const downstreamRawBufferFactory: DownstreamTransportSocketConfigFactory = {
  category: 'envoy.transport_sockets.downstream',
  name: 'envoy.transport_sockets.raw_buffer',
  configTypes: [RAW_BUFFER],
  createTransportSocketFactory: () => rawBufferDownstream,
};

export const upstreamRawBufferFactory: UpstreamTransportSocketConfigFactory = {
  category: 'envoy.transport_sockets.upstream',
  name: 'envoy.transport_sockets.raw_buffer',
  configTypes: [RAW_BUFFER],
  createTransportSocketFactory: () => rawBufferUpstream,
};
