/**
 * `/listeners`, after Envoy's `listeners_handler.cc`.
 *
 * Text: one `<name>::<address>` line per bound socket, the address as
 * Envoy prints it (`0.0.0.0:10000`, `[::1]:10000`, the real port when port 0
 * was bound). JSON (`?format=json`): envoy.admin.v3.Listeners, pretty-printed.
 */
import { create } from '@bufbuild/protobuf';
import { ListenersSchema } from '../../generated/envoy/admin/v3/listeners_pb.js';
import type { AddressSchema } from '../../generated/envoy/config/core/v3/address_pb.js';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { addressString } from '../../stats/listener_stats.js';
import type { AdminHandler, AdminResponse } from './admin_types.js';
import { protoJson } from './server_info_handler.js';
import { APPLICATION_JSON } from './stats_handler.js';

/** A bound address: an IP socket or a unix-domain pipe. */
export type SocketAddressSnapshot =
  | { readonly address: string; readonly port: number }
  | { readonly pipe: string };

/** What the server reports per listener (in the order `/listeners` shows them). */
export interface ListenerStatusSnapshot {
  readonly name: string;
  readonly localAddress: SocketAddressSnapshot;
  readonly additionalLocalAddresses?: readonly SocketAddressSnapshot[];
}

/** Envoy's Address::Instance::asString(). */
export function socketAddressString(a: SocketAddressSnapshot): string {
  return 'pipe' in a ? a.pipe : addressString(a.address, a.port);
}

/** Envoy's Network::Utility::addressToProtobufAddress, as protobuf-es init data. */
export function addressProto(a: SocketAddressSnapshot): MessageInitShape<typeof AddressSchema> {
  if ('pipe' in a) return { address: { case: 'pipe', value: { path: a.pipe } } };
  const ip = a.address.startsWith('[') && a.address.endsWith(']') ? a.address.slice(1, -1) : a.address;
  return { address: { case: 'socketAddress', value: { address: ip, portSpecifier: { case: 'portValue', value: a.port } } } };
}

export function renderListenersText(listeners: readonly ListenerStatusSnapshot[]): string {
  let out = '';
  for (const l of listeners) {
    for (const a of [l.localAddress, ...(l.additionalLocalAddresses ?? [])]) out += `${l.name}::${socketAddressString(a)}\n`;
  }
  return out;
}

export function renderListenersJson(listeners: readonly ListenerStatusSnapshot[]): string {
  const message = create(ListenersSchema, {
    listenerStatuses: listeners.map((l) => ({
      name: l.name,
      localAddress: addressProto(l.localAddress),
      additionalLocalAddresses: (l.additionalLocalAddresses ?? []).map(addressProto),
    })),
  });
  return protoJson(ListenersSchema, message, false);
}

/** A `/listeners` handler over the server's snapshot function. */
export function listenersHandler(snapshot: () => readonly ListenerStatusSnapshot[]): AdminHandler {
  return (req): AdminResponse => {
    const listeners = snapshot();
    if (req.query.get('format') === 'json') {
      return { status: 200, contentType: APPLICATION_JSON, body: renderListenersJson(listeners) };
    }
    return { status: 200, body: renderListenersText(listeners) };
  };
}
