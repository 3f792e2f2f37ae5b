/**
 * Numeric values of the HCM enums we read. Generated enums are type-only here
 * (nothing from src/generated runs); a test checks these against the
 * descriptor registry so proto drift fails loudly.
 */
/** envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.CodecType */
export const CodecTypeValue = { AUTO: 0, HTTP1: 1, HTTP2: 2, HTTP3: 3 } as const;
/** ...HttpConnectionManager.ServerHeaderTransformation */
export const ServerHeaderTransformationValue = { OVERWRITE: 0, APPEND_IF_ABSENT: 1, PASS_THROUGH: 2 } as const;
