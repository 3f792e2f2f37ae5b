/**
 * Initialization targets and managers, after Envoy's `envoy/init/target.h`
 * and `envoy/init/manager.h`: a listener (or the server) does not take
 * traffic until every target registered with its manager is ready — an RDS
 * subscription waiting for its first RouteConfiguration, for example.
 */

/** Something that must be ready before its owner starts. */
export interface InitTarget {
  /** For logs ("RdsRouteConfigSubscription local_route"). */
  readonly name: string;
  /**
   * Starts initializing. `ready` is called once when done, possibly at once
   * (synchronously) when there is nothing to wait for.
   */
  initialize(ready: () => void): void;
}

/** Where targets register while their owner is being built. */
export interface InitManager {
  add(target: InitTarget): void;
}
