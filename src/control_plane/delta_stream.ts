/**
 * An incremental (delta) xDS stream (DeltaAggregatedResources, or
 * Delta{Listeners,Routes,Clusters,Endpoints,Secrets}), after go-control-plane's
 * `pkg/server/delta/v3` and Envoy's xds_protocol.rst "Incremental xDS":
 *
 *   - subscriptions change by `resource_names_subscribe` / `_unsubscribe`
 *     ("*" is the wildcard; an empty first LDS/CDS request is the legacy
 *     wildcard), and those changes apply whatever the nonce;
 *   - each resource's version is the SHA-256 of its serialized bytes; the
 *     stream remembers what the client holds (starting from the first
 *     request's `initial_resource_versions`) and sends only what differs;
 *   - resources that went away are listed in `removed_resources`, and so is a
 *     named subscription to a resource that does not exist (that is how a
 *     delta server says "does not exist");
 *   - `system_version_info` is the snapshot's version of the type;
 *   - a NACK (error_detail on the current nonce) is recorded, not answered.
 */
import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse } from '../generated/envoy/service/discovery/v3/discovery_pb.js';
import { newDeltaDiscoveryResponse, newResource } from './discovery_service.js';
import { kindOfTypeUrl, PUSH_ORDER, shortTypeName } from './resource_types.js';
import type { SnapshotResource } from './snapshot.js';
import { TypeState, XdsStream } from './xds_stream.js';

export class DeltaStream extends XdsStream<DeltaDiscoveryResponse> {
  onRequest(req: DeltaDiscoveryRequest): void {
    if (this.closed) return;
    this.learnNode(req.node);
    const typeUrl = this.requestType(req.typeUrl);
    if (typeUrl === undefined) return;
    this.host.stats.request(shortTypeName(typeUrl));
    let st = this.types.get(typeUrl);
    const first = st === undefined;
    if (st === undefined) {
      st = new TypeState(typeUrl);
      this.types.set(typeUrl, st);
      if (req.resourceNamesSubscribe.length === 0 && kindOfTypeUrl(typeUrl)?.legacyWildcard === true) st.wildcard = true;
      for (const [name, version] of Object.entries(req.initialResourceVersions)) st.clientVersions.set(name, version);
    } else if (req.responseNonce !== '') {
      if (req.responseNonce === st.lastSentNonce) {
        if (req.errorDetail !== undefined) this.recordNack(st, st.lastSentSystemVersion, req.errorDetail);
        else this.recordAck(st, st.lastSentSystemVersion);
      } else {
        this.host.log.debug(`${this.describeClient()} ${shortTypeName(typeUrl)} delta request with stale nonce ${req.responseNonce}`);
      }
    }
    for (const name of req.resourceNamesSubscribe) {
      if (name === '*') st.wildcard = true;
      else st.names.add(name);
    }
    for (const name of req.resourceNamesUnsubscribe) {
      if (name === '*') st.wildcard = false;
      else st.names.delete(name);
    }
    // Forget what the client held of resources it no longer wants.
    for (const name of [...st.clientVersions.keys()]) {
      if (!st.wildcard && !st.names.has(name)) st.clientVersions.delete(name);
    }
    this.push(st, first);
  }

  /** Sends what differs between the snapshot and what the client holds; with `force`, even an empty response. */
  private push(st: TypeState, force: boolean): void {
    const snapshot = this.snapshot();
    if (snapshot === undefined) {
      st.pending = true;
      return;
    }
    const all = snapshot.resources(st.typeUrl);
    const interested = (name: string): boolean => st.wildcard || st.names.has(name);
    const updated: SnapshotResource[] = [];
    const removed: string[] = [];
    for (const res of all.values()) {
      if (interested(res.name) && st.clientVersions.get(res.name) !== res.hash) updated.push(res);
    }
    for (const [name, version] of st.clientVersions) {
      if (!all.has(name) && version !== '') removed.push(name);
    }
    for (const name of st.names) {
      if (!all.has(name) && !st.clientVersions.has(name)) removed.push(name);
    }
    if (updated.length === 0 && removed.length === 0 && !force && !st.pending) return;
    const version = snapshot.typeVersion(st.typeUrl) || snapshot.version;
    const nonce = this.nextNonce();
    const response = newDeltaDiscoveryResponse({
      systemVersionInfo: version,
      resources: updated.map((r) => newResource({ name: r.name, version: r.hash, resource: r.any })),
      typeUrl: st.typeUrl,
      removedResources: removed,
      nonce,
      controlPlane: { identifier: this.host.controlPlaneId },
    });
    for (const r of updated) st.clientVersions.set(r.name, r.hash);
    for (const name of removed) {
      // A named subscription stays, known not to exist; a wildcard-only resource is forgotten.
      if (st.names.has(name)) st.clientVersions.set(name, '');
      else st.clientVersions.delete(name);
    }
    st.lastSentSystemVersion = version;
    this.recordPush(st, version, nonce);
    this.host.log.debug(`${this.describeClient()} <- delta ${shortTypeName(st.typeUrl)} ${version} nonce ${nonce}: +[${updated.map((r) => r.name).join(', ')}] -[${removed.join(', ')}]`);
    this.call.write(response);
  }

  onSnapshotChange(): void {
    if (this.closed) return;
    if (this.snapshot() === undefined) return;
    for (const typeUrl of PUSH_ORDER) {
      const st = this.types.get(typeUrl);
      if (st !== undefined) this.push(st, false);
    }
    for (const st of this.types.values()) {
      if (st.pending) this.push(st, true);
    }
  }
}
