/**
 * Passive health checking interfaces, after Envoy's
 * `envoy/upstream/outlier_detection.h`: what the data path reports about a
 * host (a DetectorHostMonitor hangs on each host of a cluster that has
 * `outlier_detection`), and the results it can report besides HTTP codes.
 */

/**
 * Non-HTTP results (Envoy's `Outlier::Result`). "Local origin" results are
 * failures Legate saw itself before any response (connect failure, timeout,
 * reset); "external origin" ones came from the upstream.
 */
export const enum OutlierResult {
  /** A non-HTTP transaction with the upstream succeeded. */
  ExtOriginRequestSuccess = 0,
  /** A non-HTTP transaction failed on the upstream's side. */
  ExtOriginRequestFailed = 1,
  /** The connection is up; the higher protocol (HTTP) reports its own result later. */
  LocalOriginConnectSuccess = 2,
  /** The connection is up and that is all there is to report (TCP proxy). */
  LocalOriginConnectSuccessFinal = 3,
  /** Connect failure, or the stream reset before a response. */
  LocalOriginConnectFailed = 4,
  /** No response in time. */
  LocalOriginTimeout = 5,
}

/** Which success-rate monitor: HTTP/external results, or local-origin ones (split mode only). */
export type SuccessRateMonitorType = 'external' | 'local';

/** Per-host outlier state and the data path's way to report into it. */
export interface DetectorHostMonitor {
  /** Times this host was ejected (enforced ejections only). */
  readonly numEjections: number;
  /** Monotonic ms of the last ejection / un-ejection, or null. */
  readonly lastEjectionTimeMs: number | null;
  readonly lastUnejectionTimeMs: number | null;
  /** An upstream response's status code (gRPC: the HTTP equivalent of grpc-status). */
  putHttpResponseCode(code: number): void;
  /** A result without (or with an explicit) HTTP code; `code` is used when errors are not split. */
  putResult(result: OutlierResult, code?: number): void;
  /** Success rate (percent) of the last interval, -1 when it was not computed. */
  successRate(type: SuccessRateMonitorType): number;
}
