/**
 * The snapshot cache: which snapshot each client is served, after
 * go-control-plane's `pkg/cache/v3` SnapshotCache with a node-hash fallback
 * chain. A client's snapshot is looked up by its node `id`, then by its node
 * `cluster`, then the default snapshot.
 *
 * A snapshot set is replaced as a whole and only when every snapshot in it is
 * consistent (see snapshot_consistency.ts): a refused set changes nothing, the
 * previous snapshots stay served.
 */
import type { Node } from '../generated/envoy/config/core/v3/base_pb.js';
import type { ConfigError } from '../config/config_error.js';
import { consistencyErrors } from './snapshot_consistency.js';
import type { ControlPlaneStats } from './control_plane_stats.js';
import { PUSH_ORDER, shortTypeName } from './resource_types.js';
import type { Snapshot } from './snapshot.js';

/** The key of the default snapshot in a snapshot set. */
export const DEFAULT_SNAPSHOT_KEY = '';

export class InconsistentSnapshotError extends Error {
  override readonly name = 'InconsistentSnapshotError';
  constructor(readonly key: string, readonly errors: ConfigError[]) {
    // The first problem on the same line, so a one-problem refusal is a one-line log entry.
    super(
      `snapshot ${key === DEFAULT_SNAPSHOT_KEY ? '(default)' : `"${key}"`} is inconsistent: ` +
        errors.map((e, i) => (i === 0 ? e.message : `\n  also: ${e.message}`)).join(''),
    );
  }
}

export class SnapshotCache {
  private snapshots: ReadonlyMap<string, Snapshot> = new Map();
  private readonly listeners = new Set<() => void>();

  constructor(private readonly stats?: ControlPlaneStats) {}

  /**
   * Replaces every snapshot: `set` maps a node id or node cluster (or
   * DEFAULT_SNAPSHOT_KEY) to its snapshot. Throws InconsistentSnapshotError
   * (and keeps the current set) when one of them has dangling references.
   */
  setSnapshots(set: ReadonlyMap<string, Snapshot>, generation: number): void {
    for (const [key, snapshot] of set) {
      const errors = consistencyErrors(snapshot);
      if (errors.length > 0) throw new InconsistentSnapshotError(key, errors);
    }
    this.snapshots = new Map(set);
    if (this.stats !== undefined) {
      this.stats.snapshotUpdates++;
      this.stats.snapshotVersion = generation;
      const def = set.get(DEFAULT_SNAPSHOT_KEY);
      for (const t of PUSH_ORDER) this.stats.snapshotResources.set(shortTypeName(t), def?.resources(t).size ?? 0);
    }
    for (const l of [...this.listeners]) l();
  }

  /** Sets (or replaces) one snapshot, keeping the others. */
  setSnapshot(key: string, snapshot: Snapshot, generation: number): void {
    const next = new Map(this.snapshots);
    next.set(key, snapshot);
    this.setSnapshots(next, generation);
  }

  /** The snapshot for a client: by node id, node cluster, then the default. */
  snapshotFor(node: Pick<Node, 'id' | 'cluster'> | undefined): Snapshot | undefined {
    if (node !== undefined) {
      if (node.id !== '') {
        const s = this.snapshots.get(node.id);
        if (s !== undefined) return s;
      }
      if (node.cluster !== '') {
        const s = this.snapshots.get(node.cluster);
        if (s !== undefined) return s;
      }
    }
    return this.snapshots.get(DEFAULT_SNAPSHOT_KEY);
  }

  /** The snapshot stored under a key (not the fallback chain). */
  get(key: string): Snapshot | undefined {
    return this.snapshots.get(key);
  }

  keys(): string[] {
    return [...this.snapshots.keys()];
  }

  /**
   * The version some current snapshot already gives to exactly this content
   * of a type, so the same content keeps one version and different content
   * never shares one, whichever snapshot a client is served.
   */
  versionOfContent(typeUrl: string, digest: string): string | undefined {
    for (const s of this.snapshots.values()) {
      if (s.typeDigest(typeUrl) === digest) return s.typeVersion(typeUrl);
    }
    return undefined;
  }

  /** Calls `fn` after every accepted change; returns the unsubscribe function. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
