/**
 * The `node` Legate sends to control planes, after Envoy's LocalInfoImpl:
 * the bootstrap's node (id, cluster, metadata, locality…) with
 * `--service-node`, `--service-cluster` and `--service-zone` taking
 * precedence, and the user agent filled in.
 */
import { clone, create } from '@bufbuild/protobuf';
import type { Node } from '../generated/envoy/config/core/v3/base_pb.js';
import { messageSchema } from '../config/type_registry.js';
import { VERSION } from './version.js';

const NODE = 'envoy.config.core.v3.Node';
const LOCALITY = 'envoy.config.core.v3.Locality';

export interface NodeOverrides {
  serviceNode: string | null;
  serviceCluster: string | null;
  serviceZone: string | null;
}

export function localNode(bootstrapNode: Node | undefined, o: NodeOverrides): Node {
  const schema = messageSchema(NODE);
  const node = (bootstrapNode !== undefined ? clone(schema, bootstrapNode as never) : create(schema)) as unknown as Node;
  if (o.serviceNode !== null) node.id = o.serviceNode;
  if (o.serviceCluster !== null) node.cluster = o.serviceCluster;
  if (o.serviceZone !== null) {
    node.locality ??= create(messageSchema(LOCALITY)) as never;
    node.locality!.zone = o.serviceZone;
  }
  node.userAgentName = 'legate';
  node.userAgentVersionType = { case: 'userAgentVersion', value: VERSION };
  return node;
}
