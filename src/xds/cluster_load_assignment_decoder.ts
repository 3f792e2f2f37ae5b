/**
 * A fast path for decoding a ClusterLoadAssignment from the wire.
 *
 * An EDS update of a big cluster is 10,000s of LbEndpoint → Endpoint →
 * Address → SocketAddress messages of the same plain shape, and protobuf-es's
 * reflective `fromBinary` spends most of an update's time on them. This
 * decoder reads exactly those messages by hand and builds the very objects
 * `fromBinary` would (same `$typeName`, same keys, same defaults).
 *
 * Exactness comes before speed: for any message that holds something off the
 * plain path (a field it does not read by hand, an unknown field, a
 * repeated singular message that would need merging, an unexpected wire type)
 * it hands that message's bytes to protobuf-es (`fromBinary` of the real
 * schema), so the result is always what the generic decoder gives. Malformed
 * input throws; the caller then decodes generically to get the proper error.
 * The decoder disables itself if the generated schema's shape ever differs
 * from the one it builds (a proto update), rather than build wrong objects.
 */
import { create, fromBinary, type DescMessage, type Message } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { messageSchema } from '../config/type_registry.js';

const CLA = 'envoy.config.endpoint.v3.ClusterLoadAssignment';
const LOCALITY_LB_ENDPOINTS = 'envoy.config.endpoint.v3.LocalityLbEndpoints';
const LB_ENDPOINT = 'envoy.config.endpoint.v3.LbEndpoint';
const ENDPOINT = 'envoy.config.endpoint.v3.Endpoint';
const ADDRESS = 'envoy.config.core.v3.Address';
const SOCKET_ADDRESS = 'envoy.config.core.v3.SocketAddress';

/** How many messages went to protobuf-es instead (for tests and the bench: the fast path must really run). */
export const claDecoderCounters = { genericMessages: 0 };

/** Returned by a hand decoder when the message is off the plain path. */
const BAIL = null;

type Obj = Record<string, unknown>;

interface Schemas {
  readonly cla: DescMessage;
  readonly lle: DescMessage;
  readonly lbe: DescMessage;
  readonly endpoint: DescMessage;
  readonly address: DescMessage;
  readonly socketAddress: DescMessage;
  /** Field schemas decoded generically where they appear (locality, metadata, policy...). */
  readonly field: (owner: DescMessage, number: number) => DescMessage;
}

/** One decode: the schemas and the whole input (sub-messages handed to protobuf-es are slices of it). */
interface Ctx extends Schemas {
  readonly bytes: Uint8Array;
}

let schemas: Schemas | null | undefined;

/** The schemas, or null when the generated shapes are not the ones this decoder builds. */
function loadSchemas(): Schemas | null {
  if (schemas !== undefined) return schemas;
  const s = {
    cla: messageSchema(CLA),
    lle: messageSchema(LOCALITY_LB_ENDPOINTS),
    lbe: messageSchema(LB_ENDPOINT),
    endpoint: messageSchema(ENDPOINT),
    address: messageSchema(ADDRESS),
    socketAddress: messageSchema(SOCKET_ADDRESS),
    field(owner: DescMessage, number: number): DescMessage {
      const f = owner.fields.find((x) => x.number === number);
      if (f === undefined || f.message === undefined) throw new Error(`${owner.typeName} field ${number} is not a message`);
      return f.message;
    },
  };
  const sameKeys = (schema: DescMessage, built: Obj): boolean =>
    JSON.stringify(Object.keys(create(schema)).sort()) === JSON.stringify(Object.keys(built).sort());
  schemas = sameKeys(s.cla, newCla()) && sameKeys(s.lle, newLle()) && sameKeys(s.lbe, newLbe())
    && sameKeys(s.endpoint, newEndpoint()) && sameKeys(s.address, newAddress()) && sameKeys(s.socketAddress, newSocketAddress())
    ? s : null;
  return schemas;
}

// The objects create(schema) gives, written out so V8 sees one shape per type.
const newCla = (): Obj => ({ $typeName: CLA, clusterName: '', endpoints: [], namedEndpoints: {} });
const newLle = (): Obj => ({ $typeName: LOCALITY_LB_ENDPOINTS, lbEndpoints: [], lbConfig: { case: undefined }, priority: 0 });
const newLbe = (): Obj => ({ $typeName: LB_ENDPOINT, hostIdentifier: { case: undefined }, healthStatus: 0 });
const newEndpoint = (): Obj => ({ $typeName: ENDPOINT, hostname: '', additionalAddresses: [] });
const newAddress = (): Obj => ({ $typeName: ADDRESS, address: { case: undefined } });
const newSocketAddress = (): Obj => ({
  $typeName: SOCKET_ADDRESS, protocol: 0, address: '', portSpecifier: { case: undefined }, resolverName: '', ipv4Compat: false,
});

/**
 * Decodes a serialized ClusterLoadAssignment. Returns null when the fast path
 * is unavailable; throws on malformed input (decode generically for the error).
 */
export function decodeClusterLoadAssignment(bytes: Uint8Array): Message | null {
  const s = loadSchemas();
  if (s === null) return null;
  const r = new BinaryReader(bytes);
  const cla = readCla(r, bytes.length, { ...s, bytes });
  if (cla !== BAIL) return cla as unknown as Message;
  claDecoderCounters.genericMessages++;
  return fromBinary(s.cla, bytes) as Message;
}

/** Reads a length-delimited sub-message with `read`, or generically with `schema` when `read` bails. */
function subMessage(r: BinaryReader, s: Ctx, schema: DescMessage, read: ((r: BinaryReader, end: number, s: Ctx) => Obj | null) | null): Obj {
  const len = r.uint32();
  const start = r.pos;
  const end = start + len;
  if (end > r.len) throw new RangeError('premature EOF');
  if (read !== null) {
    const fast = read(r, end, s);
    if (fast !== BAIL) {
      if (r.pos !== end) throw new RangeError('sub-message overran its length');
      return fast;
    }
  }
  r.pos = end;
  claDecoderCounters.genericMessages++;
  return fromBinary(schema, s.bytes.subarray(start, end)) as unknown as Obj;
}

function readCla(r: BinaryReader, end: number, s: Ctx): Obj | null {
  const m = newCla();
  const endpoints = m['endpoints'] as Obj[];
  let policySeen = false;
  while (r.pos < end) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === WireType.LengthDelimited) m['clusterName'] = r.string();
    else if (no === 2 && wt === WireType.LengthDelimited) endpoints.push(subMessage(r, s, s.lle, readLle));
    else if (no === 4 && wt === WireType.LengthDelimited && !policySeen) {
      policySeen = true;
      m['policy'] = subMessage(r, s, s.field(s.cla, 4), null);
    } else return BAIL;
  }
  return m;
}

function readLle(r: BinaryReader, end: number, s: Ctx): Obj | null {
  const m = newLle();
  const lbEndpoints = m['lbEndpoints'] as Obj[];
  while (r.pos < end) {
    const [no, wt] = r.tag();
    if (no === 2 && wt === WireType.LengthDelimited) lbEndpoints.push(subMessage(r, s, s.lbe, readLbe));
    else if (no === 5 && wt === WireType.Varint) m['priority'] = r.uint32();
    else if (wt === WireType.LengthDelimited && (no === 1 || no === 9) && !(FIELD_NAMES_LLE[no]! in m)) {
      m[FIELD_NAMES_LLE[no]!] = subMessage(r, s, s.field(s.lle, no), null);
    } else if (wt === WireType.LengthDelimited && (no === 3 || no === 6) && !(FIELD_NAMES_LLE[no]! in m)) {
      // load_balancing_weight and proximity are UInt32Value wrappers, unboxed.
      const w = readUInt32Value(r);
      if (w === BAIL) return BAIL;
      m[FIELD_NAMES_LLE[no]!] = w;
    } else return BAIL;
  }
  return m;
}

const FIELD_NAMES_LLE: Record<number, string> = { 1: 'locality', 3: 'loadBalancingWeight', 6: 'proximity', 9: 'metadata' };

function readLbe(r: BinaryReader, end: number, s: Ctx): Obj | null {
  const m = newLbe();
  while (r.pos < end) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === WireType.LengthDelimited && (m['hostIdentifier'] as Obj)['case'] === undefined) {
      m['hostIdentifier'] = { case: 'endpoint', value: subMessage(r, s, s.endpoint, readEndpoint) };
    } else if (no === 2 && wt === WireType.Varint) m['healthStatus'] = r.int32();
    else if (no === 3 && wt === WireType.LengthDelimited && !('metadata' in m)) m['metadata'] = subMessage(r, s, s.field(s.lbe, 3), null);
    else if (no === 4 && wt === WireType.LengthDelimited && !('loadBalancingWeight' in m)) {
      const w = readUInt32Value(r);
      if (w === BAIL) return BAIL;
      m['loadBalancingWeight'] = w;
    } else return BAIL;
  }
  return m;
}

function readEndpoint(r: BinaryReader, end: number, s: Ctx): Obj | null {
  const m = newEndpoint();
  while (r.pos < end) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === WireType.LengthDelimited && !('address' in m)) m['address'] = subMessage(r, s, s.address, readAddress);
    else if (no === 3 && wt === WireType.LengthDelimited) m['hostname'] = r.string();
    else if (no === 2 && wt === WireType.LengthDelimited && !('healthCheckConfig' in m)) {
      m['healthCheckConfig'] = subMessage(r, s, s.field(s.endpoint, 2), null);
    } else return BAIL;
  }
  return m;
}

function readAddress(r: BinaryReader, end: number, s: Ctx): Obj | null {
  const m = newAddress();
  while (r.pos < end) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === WireType.LengthDelimited && (m['address'] as Obj)['case'] === undefined) {
      m['address'] = { case: 'socketAddress', value: subMessage(r, s, s.socketAddress, readSocketAddress) };
    } else return BAIL;
  }
  return m;
}

function readSocketAddress(r: BinaryReader, end: number): Obj | null {
  const m = newSocketAddress();
  while (r.pos < end) {
    const [no, wt] = r.tag();
    if (wt === WireType.Varint) {
      if (no === 1) m['protocol'] = r.int32();
      else if (no === 3) m['portSpecifier'] = { case: 'portValue', value: r.uint32() };
      else if (no === 6) m['ipv4Compat'] = r.bool();
      else return BAIL;
    } else if (wt === WireType.LengthDelimited) {
      if (no === 2) m['address'] = r.string();
      else if (no === 4) m['portSpecifier'] = { case: 'namedPort', value: r.string() };
      else if (no === 5) m['resolverName'] = r.string();
      else return BAIL;
    } else return BAIL;
  }
  return m;
}

/** A google.protobuf.UInt32Value, unboxed as protobuf-es does (an empty one is 0). */
function readUInt32Value(r: BinaryReader): number | null {
  const len = r.uint32();
  const end = r.pos + len;
  if (end > r.len) throw new RangeError('premature EOF');
  let value = 0;
  while (r.pos < end) {
    const [no, wt] = r.tag();
    if (no !== 1 || wt !== WireType.Varint) return BAIL;
    value = r.uint32();
  }
  if (r.pos !== end) throw new RangeError('sub-message overran its length');
  return value;
}
