/**
 * A state-of-the-world xDS stream (StreamAggregatedResources, or
 * Stream{Listeners,Routes,Clusters,Endpoints,Secrets}), after the SotW server
 * of go-control-plane (`pkg/server/sotw/v3`) and the protocol in Envoy's
 * xds_protocol.rst:
 *
 *   request, first of its type      -> respond (the client may hold an old
 *                                      version from another control plane)
 *   request with a stale nonce      -> ignored (a newer response is in flight)
 *   request with the current nonce  -> ACK (no error_detail) or NACK (recorded,
 *                                      not answered)
 *   resource_names changed          -> respond with the new set
 *   snapshot changed                -> respond, types in PUSH_ORDER, when the
 *                                      type's version moved
 *
 * Subscriptions: "*" subscribes to everything; an empty list on the first
 * LDS/CDS request is the legacy wildcard and stays so while the client keeps
 * sending empty lists (Envoy's ACKs); any other empty list subscribes to
 * nothing (grpc-js-xds sends one for every type when a channel closes).
 */
import type { DiscoveryRequest, DiscoveryResponse } from '../generated/envoy/service/discovery/v3/discovery_pb.js';
import { newDiscoveryResponse } from './discovery_service.js';
import { kindOfTypeUrl, PUSH_ORDER, shortTypeName } from './resource_types.js';
import type { Snapshot } from './snapshot.js';
import { TypeState, XdsStream } from './xds_stream.js';

/** Per-type state plus the SotW legacy-wildcard flag. */
class SotwTypeState extends TypeState {
  /** Still in legacy wildcard mode (first request had no names, none sent since). */
  legacyWildcard = false;
}

export class SotwStream extends XdsStream<DiscoveryResponse> {
  onRequest(req: DiscoveryRequest): void {
    if (this.closed) return;
    this.learnNode(req.node);
    const typeUrl = this.requestType(req.typeUrl);
    if (typeUrl === undefined) return;
    this.host.stats.request(shortTypeName(typeUrl));
    let st = this.types.get(typeUrl) as SotwTypeState | undefined;
    const first = st === undefined;
    if (st === undefined) {
      st = new SotwTypeState(typeUrl);
      this.types.set(typeUrl, st);
    } else if (req.responseNonce !== '') {
      if (req.responseNonce !== st.lastSentNonce) {
        this.host.log.debug(`${this.describeClient()} ${shortTypeName(typeUrl)} request with stale nonce ${req.responseNonce} (current ${st.lastSentNonce}) ignored`);
        return;
      }
      if (req.errorDetail !== undefined) this.recordNack(st, st.lastSentVersion, req.errorDetail);
      else this.recordAck(st, req.versionInfo);
    }
    const changed = this.updateSubscription(st, req.resourceNames, first);
    if (first || (changed && (st.wildcard || st.names.size > 0))) this.respond(st);
  }

  /** Applies the request's resource_names; true when the subscription changed. */
  private updateSubscription(st: SotwTypeState, names: string[], first: boolean): boolean {
    const before = `${st.wildcard}|${[...st.names].sort().join(',')}`;
    if (first && names.length === 0 && kindOfTypeUrl(st.typeUrl)?.legacyWildcard === true) {
      st.legacyWildcard = true;
      st.wildcard = true;
    } else if (names.length === 0 && st.legacyWildcard) {
      // An ACK of a legacy wildcard subscription: still everything.
    } else {
      st.legacyWildcard = false;
      st.wildcard = names.includes('*');
      st.names.clear();
      for (const n of names) if (n !== '*') st.names.add(n);
    }
    return `${st.wildcard}|${[...st.names].sort().join(',')}` !== before;
  }

  private respond(st: SotwTypeState): void {
    const snapshot = this.snapshot();
    if (snapshot === undefined) {
      st.pending = true;
      return;
    }
    this.send(st, snapshot);
  }

  private send(st: SotwTypeState, snapshot: Snapshot): void {
    const all = snapshot.resources(st.typeUrl);
    const selected = st.wildcard ? [...all.values()] : [...st.names].flatMap((n) => {
      const r = all.get(n);
      return r === undefined ? [] : [r];
    });
    // A type this control plane does not serve is answered once, empty, so the client is not left waiting.
    const version = snapshot.typeVersion(st.typeUrl) || snapshot.version;
    const nonce = this.nextNonce();
    const response = newDiscoveryResponse({
      versionInfo: version,
      resources: selected.map((r) => r.any),
      typeUrl: st.typeUrl,
      nonce,
      controlPlane: { identifier: this.host.controlPlaneId },
    });
    this.recordPush(st, version, nonce);
    this.host.log.debug(`${this.describeClient()} <- ${shortTypeName(st.typeUrl)} version ${version} nonce ${nonce}: ${selected.map((r) => r.name).join(', ') || '(none)'}`);
    this.call.write(response);
  }

  onSnapshotChange(): void {
    if (this.closed) return;
    const snapshot = this.snapshot();
    if (snapshot === undefined) return;
    for (const typeUrl of PUSH_ORDER) {
      const st = this.types.get(typeUrl) as SotwTypeState | undefined;
      if (st === undefined) continue;
      if (st.pending || st.lastSentVersion !== snapshot.typeVersion(typeUrl)) {
        if (!st.pending && !st.wildcard && st.names.size === 0) continue; // subscribed to nothing
        this.send(st, snapshot);
      }
    }
    // Types outside PUSH_ORDER that were waiting for a first snapshot.
    for (const st of this.types.values()) {
      if (st.pending) this.send(st as SotwTypeState, snapshot);
    }
  }
}
