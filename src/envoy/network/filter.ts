/**
 * Network (L4) filter API, after Envoy's `envoy/network/filter.h`. Read
 * filters see bytes from the downstream in order; a terminal filter
 * (http_connection_manager, tcp_proxy) consumes them.
 */
import type { Connection } from './connection.js';

export enum FilterStatus {
  /** Pass the data to the next filter. */
  Continue = 0,
  /** Stop: the filter will call continueReading() later (or has consumed the data). */
  StopIteration = 1,
}

export interface ReadFilterCallbacks {
  readonly connection: Connection;
  /** Resumes iteration after StopIteration from onNewConnection. */
  continueReading(): void;
}

export interface ReadFilter {
  initializeReadFilterCallbacks(callbacks: ReadFilterCallbacks): void;
  /** The connection is up. Return StopIteration to hold reads until continueReading(). */
  onNewConnection(): FilterStatus;
  onData(data: Buffer, endStream: boolean): FilterStatus;
}

/** Adds filters to a new connection; built once per filter config. */
export interface NetworkFilterManager {
  addReadFilter(filter: ReadFilter): void;
}

export type NetworkFilterFactoryCb = (manager: NetworkFilterManager, connection: Connection) => void;
