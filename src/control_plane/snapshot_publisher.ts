/**
 * Turns what the sources hold into the snapshot set the cache serves. Each
 * source (the resource directory, the services file) hands over its
 * resources per snapshot key: DEFAULT_SNAPSHOT_KEY for everyone, or a node id
 * / node cluster. The snapshot of a key is the default resources of every
 * source plus that key's own, which replace default resources of the same
 * type and name.
 *
 * A source's update is published as a new generation only when it builds
 * (no duplicate names) and is consistent; otherwise it throws and the
 * source's previous resources stay in force. An update that changes nothing
 * is not published.
 */
import type { ControlPlaneStats } from './control_plane_stats.js';
import { kindOfMessage, resourceName } from './resource_types.js';
import { Snapshot, type ResourceInput } from './snapshot.js';
import { DEFAULT_SNAPSHOT_KEY, type SnapshotCache } from './snapshot_cache.js';

export type SourceResources = ReadonlyMap<string, ReadonlyArray<ResourceInput>>;

export interface PublishResult {
  /** False when the update changed nothing that is served. */
  readonly changed: boolean;
  readonly generation: number;
  /** Per snapshot key, a summary such as "0 SDS, 2 CDS, 2 EDS, 1 LDS, 1 RDS". */
  readonly summary: ReadonlyMap<string, string>;
}

function identity(r: ResourceInput): string {
  return `${kindOfMessage(r.message.$typeName)?.typeUrl ?? r.message.$typeName}\0${resourceName(r.message)}`;
}

export class SnapshotPublisher {
  private generation = 0;
  private readonly sources = new Map<string, SourceResources>();
  /** The last refused change of each source, until one is accepted. */
  readonly refusals = new Map<string, { readonly at: Date; readonly message: string }>();

  constructor(
    private readonly cache: SnapshotCache,
    private readonly stats?: ControlPlaneStats,
  ) {}

  get currentGeneration(): number {
    return this.generation;
  }

  /**
   * Replaces the resources of source `sourceName` and publishes the merged
   * set. Throws a ConfigError (duplicates, unsupported types) or an
   * InconsistentSnapshotError; nothing changes then.
   */
  update(sourceName: string, resources: SourceResources): PublishResult {
    try {
      const result = this.publish(sourceName, resources);
      this.refusals.delete(sourceName);
      return result;
    } catch (e) {
      this.refuse(sourceName, e as Error);
      throw e;
    }
  }

  /** Records a change a source refused before handing it over (a file that does not parse). */
  refuse(sourceName: string, error: Error): void {
    if (this.stats !== undefined) this.stats.snapshotRejected++;
    this.refusals.set(sourceName, { at: new Date(), message: error.message });
  }

  private publish(sourceName: string, resources: SourceResources): PublishResult {
    const sources = new Map(this.sources);
    sources.set(sourceName, resources);
    const keys = new Set<string>([DEFAULT_SNAPSHOT_KEY]);
    for (const s of sources.values()) for (const k of s.keys()) keys.add(k);
    const version = String(this.generation + 1);
    const set = new Map<string, Snapshot>();
    for (const key of keys) {
      const defaults = [...sources.values()].flatMap((s) => s.get(DEFAULT_SNAPSHOT_KEY) ?? []);
      let inputs: ResourceInput[] = defaults;
      if (key !== DEFAULT_SNAPSHOT_KEY) {
        const own = [...sources.values()].flatMap((s) => s.get(key) ?? []);
        const replaced = new Set(own.map(identity));
        inputs = [...defaults.filter((r) => !replaced.has(identity(r))), ...own];
      }
      set.set(key, Snapshot.build(inputs, version, (t, d) => this.cache.versionOfContent(t, d)));
    }
    const summary = new Map([...set].map(([k, s]) => [k, s.summary()]));
    if (this.sameAsServed(set)) {
      this.sources.set(sourceName, resources);
      return { changed: false, generation: this.generation, summary };
    }
    this.cache.setSnapshots(set, this.generation + 1); // throws when inconsistent
    this.generation++;
    this.sources.set(sourceName, resources);
    return { changed: true, generation: this.generation, summary };
  }

  private sameAsServed(set: ReadonlyMap<string, Snapshot>): boolean {
    const served = this.cache.keys();
    if (this.generation === 0 || served.length !== set.size) return false;
    for (const [key, s] of set) {
      const cur = this.cache.get(key);
      if (cur === undefined || !cur.sameContent(s)) return false;
    }
    return true;
  }
}
