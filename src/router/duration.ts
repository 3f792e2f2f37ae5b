/** google.protobuf.Duration helpers (Envoy's PROTOBUF_GET_MS_*). */
import type { Duration } from '@bufbuild/protobuf/wkt';

/** Whole milliseconds of a Duration (nanos truncated), as DurationUtil::durationToMilliseconds. */
export function durationMs(d: Duration): number {
  return Number(d.seconds) * 1000 + Math.trunc(d.nanos / 1_000_000);
}

/** Milliseconds of an optional Duration, or `dflt` when unset. */
export function durationMsOr(d: Duration | undefined, dflt: number): number {
  return d === undefined ? dflt : durationMs(d);
}
