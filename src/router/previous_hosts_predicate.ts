/**
 * The `envoy.retry_host_predicates.previous_hosts` retry host predicate, after
 * Envoy's source/extensions/retry/host/previous_hosts: a retry avoids every
 * host this request already tried (the load balancer re-picks up to
 * `host_selection_retry_max_attempts` times, then takes its last pick).
 */
import type { RetryHostPredicate } from '../envoy/router/router.js';
import type { HostDescription } from '../envoy/upstream/host.js';

export const PREVIOUS_HOSTS_NAME = 'envoy.retry_host_predicates.previous_hosts';
export const PREVIOUS_HOSTS_TYPE = 'envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate';

export class PreviousHostsPredicate implements RetryHostPredicate {
  private readonly attempted = new Set<HostDescription>();

  shouldSelectAnotherHost(host: HostDescription): boolean {
    return this.attempted.has(host);
  }

  onHostAttempted(host: HostDescription): void {
    this.attempted.add(host);
  }
}
