/**
 * Response flags, as Envoy's `StreamInfo::CoreResponseFlag`. Each bit has the
 * short name that `%RESPONSE_FLAGS%` prints and the long name used by
 * `%RESPONSE_FLAGS_LONG%`. A local reply always sets one, so a 503 explains itself.
 */
export const enum ResponseFlag {
  FailedLocalHealthCheck = 1 << 0, // LH
  NoHealthyUpstream = 1 << 1, // UH
  UpstreamRequestTimeout = 1 << 2, // UT
  LocalReset = 1 << 3, // LR
  UpstreamRemoteReset = 1 << 4, // UR
  UpstreamConnectionFailure = 1 << 5, // UF
  UpstreamConnectionTermination = 1 << 6, // UC
  UpstreamOverflow = 1 << 7, // UO
  NoRouteFound = 1 << 8, // NR
  DelayInjected = 1 << 9, // DI
  FaultInjected = 1 << 10, // FI
  RateLimited = 1 << 11, // RL
  UnauthorizedExternalService = 1 << 12, // UAEX
  RateLimitServiceError = 1 << 13, // RLSE
  DownstreamConnectionTermination = 1 << 14, // DC
  UpstreamRetryLimitExceeded = 1 << 15, // URX
  StreamIdleTimeout = 1 << 16, // SI
  InvalidEnvoyRequestHeaders = 1 << 17, // IH
  DownstreamProtocolError = 1 << 18, // DPE
  UpstreamMaxStreamDurationReached = 1 << 19, // UMSDR
  ResponseFromCacheFilter = 1 << 20, // RFCF
  NoFilterConfigFound = 1 << 21, // NFCF
  DurationTimeout = 1 << 22, // DT
  UpstreamProtocolError = 1 << 23, // UPE
  NoClusterFound = 1 << 24, // NC
  OverloadManager = 1 << 25, // OM
  DnsResolutionFailed = 1 << 26, // DF
  DropOverLoad = 1 << 27, // DO
  DownstreamRemoteReset = 1 << 28, // DR
}

/** [flag, short, long] in Envoy's print order. */
export const RESPONSE_FLAG_NAMES: ReadonlyArray<readonly [number, string, string]> = [
  [ResponseFlag.FailedLocalHealthCheck, 'LH', 'FailedLocalHealthCheck'],
  [ResponseFlag.NoHealthyUpstream, 'UH', 'NoHealthyUpstream'],
  [ResponseFlag.UpstreamRequestTimeout, 'UT', 'UpstreamRequestTimeout'],
  [ResponseFlag.LocalReset, 'LR', 'LocalReset'],
  [ResponseFlag.UpstreamRemoteReset, 'UR', 'UpstreamRemoteReset'],
  [ResponseFlag.UpstreamConnectionFailure, 'UF', 'UpstreamConnectionFailure'],
  [ResponseFlag.UpstreamConnectionTermination, 'UC', 'UpstreamConnectionTermination'],
  [ResponseFlag.UpstreamOverflow, 'UO', 'UpstreamOverflow'],
  [ResponseFlag.NoRouteFound, 'NR', 'NoRouteFound'],
  [ResponseFlag.DelayInjected, 'DI', 'DelayInjected'],
  [ResponseFlag.FaultInjected, 'FI', 'FaultInjected'],
  [ResponseFlag.RateLimited, 'RL', 'RateLimited'],
  [ResponseFlag.UnauthorizedExternalService, 'UAEX', 'UnauthorizedExternalService'],
  [ResponseFlag.RateLimitServiceError, 'RLSE', 'RateLimitServiceError'],
  [ResponseFlag.DownstreamConnectionTermination, 'DC', 'DownstreamConnectionTermination'],
  [ResponseFlag.UpstreamRetryLimitExceeded, 'URX', 'UpstreamRetryLimitExceeded'],
  [ResponseFlag.StreamIdleTimeout, 'SI', 'StreamIdleTimeout'],
  [ResponseFlag.InvalidEnvoyRequestHeaders, 'IH', 'InvalidEnvoyRequestHeaders'],
  [ResponseFlag.DownstreamProtocolError, 'DPE', 'DownstreamProtocolError'],
  [ResponseFlag.UpstreamMaxStreamDurationReached, 'UMSDR', 'UpstreamMaxStreamDurationReached'],
  [ResponseFlag.ResponseFromCacheFilter, 'RFCF', 'ResponseFromCacheFilter'],
  [ResponseFlag.NoFilterConfigFound, 'NFCF', 'NoFilterConfigFound'],
  [ResponseFlag.DurationTimeout, 'DT', 'DurationTimeout'],
  [ResponseFlag.UpstreamProtocolError, 'UPE', 'UpstreamProtocolError'],
  [ResponseFlag.NoClusterFound, 'NC', 'NoClusterFound'],
  [ResponseFlag.OverloadManager, 'OM', 'OverloadManagerTerminated'],
  [ResponseFlag.DnsResolutionFailed, 'DF', 'DnsResolutionFailed'],
  [ResponseFlag.DropOverLoad, 'DO', 'DropOverload'],
  [ResponseFlag.DownstreamRemoteReset, 'DR', 'DownstreamRemoteReset'],
];

/** `%RESPONSE_FLAGS%`: comma-separated short names, or "-" when none. */
export function responseFlagsToShortString(flags: number): string {
  if (flags === 0) return '-';
  let out = '';
  for (const [bit, short] of RESPONSE_FLAG_NAMES) {
    if (flags & bit) out = out === '' ? short : `${out},${short}`;
  }
  return out;
}

/** `%RESPONSE_FLAGS_LONG%`: comma-separated long names, or "-" when none. */
export function responseFlagsToLongString(flags: number): string {
  if (flags === 0) return '-';
  const parts: string[] = [];
  for (const [bit, , long] of RESPONSE_FLAG_NAMES) if (flags & bit) parts.push(long);
  return parts.join(',');
}
