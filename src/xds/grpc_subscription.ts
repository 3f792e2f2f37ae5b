/**
 * GrpcSubscription: a Subscription carried by a GrpcMux (ADS or a dedicated
 * stream), after Envoy's `GrpcSubscriptionImpl`. The mux does the protocol;
 * this only registers the subscription's names with it.
 */
import type { Message } from '@bufbuild/protobuf';
import type { Subscription } from '../envoy/config/subscription.js';
import type { GrpcMux } from './grpc_mux.js';
import type { XdsSubscription } from './subscription_impl.js';

export class GrpcSubscription<T extends Message = Message> implements Subscription {
  constructor(private readonly mux: GrpcMux, readonly state: XdsSubscription<T>) {}

  start(resourceNames: ReadonlyArray<string>): void {
    this.state.start(resourceNames);
    this.mux.addSubscription(this.state as unknown as XdsSubscription);
  }

  updateResourceInterest(resourceNames: ReadonlyArray<string>): void {
    this.state.names = new Set(resourceNames);
    this.mux.updateSubscription(this.state as unknown as XdsSubscription);
  }

  stop(): void {
    if (this.state.stopped) return;
    this.state.stop();
    this.mux.removeSubscription(this.state as unknown as XdsSubscription);
  }
}
