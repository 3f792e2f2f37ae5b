/** Factory for `envoy.filters.listener.tls_inspector` (typed_config optional). */
import type { NamedListenerFilterConfigFactory } from '../../../../envoy/config/typed_config.js';
import type { TlsInspector as TlsInspectorProto } from '../../../../generated/envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector_pb.js';
import { ConfigError } from '../../../../config/config_error.js';
import { createTlsInspectorStats, TlsInspector } from './tls_inspector.js';

export const tlsInspectorFactory: NamedListenerFilterConfigFactory = {
  category: 'envoy.filters.listener',
  name: 'envoy.filters.listener.tls_inspector',
  configTypes: ['envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector'],
  createListenerFilterFactory(config, context) {
    const c = config as TlsInspectorProto;
    if (c.enableJa3Fingerprinting === true) throw new ConfigError('enable_ja3_fingerprinting', 'JA3 fingerprinting is not supported yet');
    // Envoy counts these in the server's root scope: `tls_inspector.tls_found`.
    const stats = createTlsInspectorStats(context.scope);
    return () => new TlsInspector(stats);
  },
};
