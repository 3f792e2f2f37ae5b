/**
 * The decision of Legate's Rate Limit Service, after envoyproxy/ratelimit's
 * `GetLimit` and fixed-window cache: for each descriptor of a request, walk
 * the domain's descriptor tree entry by entry (`key_value` first, then `key`
 * for any value); the node reached with the last entry names the limit.
 * Counters are in-memory, one per (domain, descriptor with its actual
 * values, unit) and fixed window (`floor(now / unit)`), incremented by
 * hits_addend (1 when 0). Over `requests_per_unit` in the window the
 * descriptor is OVER_LIMIT (shadow_mode: still OK), and so is the whole
 * answer when any descriptor is.
 */
import { nodeKey, type DescriptorNode, type DomainLimits, type RateLimitRule } from './limits_config.js';

export const enum Code { Unknown = 0, Ok = 1, OverLimit = 2 }

export interface DescriptorEntry {
  readonly key: string;
  readonly value: string;
}

export interface LimitRequest {
  readonly domain: string;
  readonly descriptors: ReadonlyArray<{ readonly entries: ReadonlyArray<DescriptorEntry> }>;
  readonly hitsAddend: number;
}

export interface DescriptorStatus {
  readonly code: Code;
  /** The limit that applied (null: none, or unlimited). */
  readonly currentLimit: { readonly name: string; readonly requestsPerUnit: number; readonly unit: number } | null;
  readonly limitRemaining: number;
  /** Seconds until the window ends (0 without a limit). */
  readonly durationUntilResetSeconds: number;
}

export interface LimitDecision {
  readonly overallCode: Code;
  readonly statuses: DescriptorStatus[];
}

/** A request the service refuses (gRPC INVALID_ARGUMENT). */
export class InvalidRequestError extends Error {}

const UNLIMITED_REMAINING = 0xffffffff;
/** Sweep expired counters every this many requests. */
const SWEEP_EVERY = 1024;

interface WindowCounter { windowStart: number; windowEnd: number; count: number }

export class RateLimiter {
  private readonly domains: ReadonlyMap<string, DomainLimits>;
  private readonly counters = new Map<string, WindowCounter>();
  private requestsSinceSweep = 0;

  /** `nowMs`: wall-clock milliseconds (windows are aligned to the epoch, as envoyproxy/ratelimit's). */
  constructor(domains: ReadonlyArray<DomainLimits>, private readonly nowMs: () => number = Date.now) {
    const m = new Map<string, DomainLimits>();
    for (const d of domains) {
      const other = m.get(d.domain);
      if (other !== undefined) throw new Error(`domain "${d.domain}" is defined in both ${other.file} and ${d.file}`);
      m.set(d.domain, d);
    }
    this.domains = m;
  }

  /** The node whose limit applies to `entries`, or null. */
  findLimit(domain: string, entries: ReadonlyArray<DescriptorEntry>): { rule: RateLimitRule; node: DescriptorNode } | null {
    const limits = this.domains.get(domain);
    if (limits === undefined) return null;
    let level = limits.descriptors;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const node = level.get(nodeKey(e.key, e.value)) ?? level.get(e.key);
      if (node === undefined) return null;
      if (i === entries.length - 1) return node.rateLimit === null ? null : { rule: node.rateLimit, node };
      if (node.children.size === 0) return null;
      level = node.children;
    }
    return null;
  }

  shouldRateLimit(req: LimitRequest): LimitDecision {
    if (req.domain.length === 0) throw new InvalidRequestError('rate limit domain must not be empty');
    if (req.descriptors.length === 0) throw new InvalidRequestError('rate limit descriptor list must not be empty');
    const now = this.nowMs();
    const nowSeconds = Math.floor(now / 1000);
    const hits = req.hitsAddend > 0 ? req.hitsAddend : 1;
    if (++this.requestsSinceSweep >= SWEEP_EVERY) this.sweep(now);
    let overall = Code.Ok;
    const statuses = req.descriptors.map((d): DescriptorStatus => {
      const found = this.findLimit(req.domain, d.entries);
      if (found === null) return { code: Code.Ok, currentLimit: null, limitRemaining: 0, durationUntilResetSeconds: 0 };
      const { rule, node } = found;
      if (rule.unlimited) return { code: Code.Ok, currentLimit: null, limitRemaining: UNLIMITED_REMAINING, durationUntilResetSeconds: 0 };
      const unitMs = rule.unitSeconds * 1000;
      const windowStart = Math.floor(now / unitMs) * unitMs;
      const key = `${req.domain}\u0000${d.entries.map((e) => `${e.key}\u0001${e.value}`).join('\u0000')}\u0000${rule.unitSeconds}`;
      let c = this.counters.get(key);
      if (c === undefined || c.windowStart !== windowStart) {
        c = { windowStart, windowEnd: windowStart + unitMs, count: 0 };
        this.counters.set(key, c);
      }
      c.count += hits;
      const over = c.count > rule.requestsPerUnit;
      const code = over && !node.shadowMode ? Code.OverLimit : Code.Ok;
      if (code === Code.OverLimit) overall = Code.OverLimit;
      return {
        code,
        currentLimit: { name: rule.name, requestsPerUnit: rule.requestsPerUnit, unit: rule.unitCode },
        limitRemaining: over ? 0 : rule.requestsPerUnit - c.count,
        durationUntilResetSeconds: rule.unitSeconds - (nowSeconds % rule.unitSeconds),
      };
    });
    return { overallCode: overall, statuses };
  }

  private sweep(now: number): void {
    this.requestsSinceSweep = 0;
    for (const [k, c] of this.counters) if (c.windowEnd <= now) this.counters.delete(k);
  }
}
