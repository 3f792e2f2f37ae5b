/**
 * Listener filters, after Envoy's `Network::ListenerFilter`: they run on an
 * accepted socket before a filter chain is chosen, may read its first bytes
 * (which are put back for the transport socket), and set what the chain match
 * uses: requested server name, transport protocol, application protocols.
 */
import { FilterStatus } from './filter.js';

export { FilterStatus };

export interface ListenerFilterCallbacks {
  setRequestedServerName(name: string): void;
  /** 'tls' or 'raw_buffer'. */
  setDetectedTransportProtocol(protocol: string): void;
  setRequestedApplicationProtocols(protocols: ReadonlyArray<string>): void;
}

export interface ListenerFilter {
  /** Continue when nothing needs reading; StopIteration to get onData. */
  onAccept(callbacks: ListenerFilterCallbacks): FilterStatus;
  /**
   * Every byte read so far (they are not consumed). Continue when done;
   * StopIteration to wait for more. Returning 'close' rejects the connection.
   */
  onData(buffered: Buffer): FilterStatus | 'close';
  /** The most bytes this filter ever needs to see. */
  maxReadBytes(): number;
}

export type ListenerFilterFactoryCb = () => ListenerFilter;
