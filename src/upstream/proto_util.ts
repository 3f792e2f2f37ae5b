/**
 * Small helpers for reading Envoy v3 protobuf-es messages in the upstream
 * layer: durations, `Any` unpacking, socket addresses, config errors.
 *
 * Errors are the config layer's `ConfigError` (field path + detail), thrown
 * only while a cluster is built: a CDS update turns one into a NACK, a static
 * bootstrap into a startup error. `Any` fields are unpacked through the shared
 * type registry (src/config/type_registry.ts), which also unwraps TypedStruct.
 */
import type { Message } from '@bufbuild/protobuf';
import type { Any, Duration } from '@bufbuild/protobuf/wkt';
import { ConfigError } from '../config/config_error.js';
import { effectiveTypeName, unpackAny } from '../config/type_registry.js';
import type { Address, SocketAddress } from '../generated/envoy/config/core/v3/address_pb.js';

export { ConfigError };

/** A feature that is valid Envoy config but not implemented yet: a clear error, never a silent fallback. */
export function notSupportedYet(fieldPath: string, what: string): ConfigError {
  return new ConfigError(fieldPath, `${what} is not supported yet`);
}

/** The message inside an Any (TypedStruct unwrapped), typed by the caller; throws ConfigError naming `fieldPath`. */
export function unpack<T extends Message>(any: Any, fieldPath: string): T {
  return unpackAny(any, fieldPath) as T;
}

/** The type an Any configures (looking through a TypedStruct). */
export function anyTypeName(any: Any): string {
  return effectiveTypeName(any);
}

/** A socket address with a numeric port; throws for pipes, internal addresses and named ports. */
export function socketAddressOf(addr: Address | undefined, fieldPath: string): { address: string; port: number; resolverName: string } {
  if (addr === undefined || addr.address.case === undefined) {
    throw new ConfigError(fieldPath, 'address is required');
  }
  if (addr.address.case !== 'socketAddress') {
    throw notSupportedYet(`${fieldPath}.${addr.address.case === 'pipe' ? 'pipe' : 'envoy_internal_address'}`, 'a non-socket upstream address');
  }
  const sa: SocketAddress = addr.address.value;
  if (sa.portSpecifier.case === 'namedPort') {
    throw notSupportedYet(`${fieldPath}.socket_address.named_port`, 'named_port');
  }
  if (sa.address === '') throw new ConfigError(`${fieldPath}.socket_address.address`, 'address is required');
  return { address: sa.address, port: sa.portSpecifier.value ?? 0, resolverName: sa.resolverName };
}

/**
 * A deterministic fingerprint of a message for "did this config change?"
 * checks (bigints, bytes and key order handled). Equal configs give equal strings.
 */
export function messageFingerprint(msg: unknown): string {
  return JSON.stringify(msg, (_k, v: unknown) => {
    if (typeof v === 'bigint') return `${v}n`;
    if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(o).sort()) sorted[k] = o[k];
      return sorted;
    }
    return v;
  });
}
