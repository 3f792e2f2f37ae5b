/**
 * A watched directory of Envoy-format resource files (see resource_file.ts):
 *
 *   <dir>/*.yaml|*.yml|*.json          resources served to every node
 *   <dir>/<key>/*.yaml|*.yml|*.json    resources for the node whose id (or
 *                                      cluster) is <key>, over the defaults
 *
 * Changes are noticed by a ChangeWatcher (fs.watch plus a once-a-second
 * scan of names, sizes and mtimes), then the whole directory is read again
 * and published. A change that does not parse, validate or pass the consistency
 * check is refused as a whole with a log line naming file:line:column; the
 * previous snapshot stays served. Hidden files and editor leftovers (`~`,
 * `.swp`, `.tmp`) are skipped.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { getLogger, type Logger } from '../common/logger.js';
import { ConfigError } from '../config/config_error.js';
import { ChangeWatcher, type ChangeWatcherOptions } from './change_watcher.js';
import { parseResourceFile } from './resource_file.js';
import type { ResourceInput } from './snapshot.js';
import { DEFAULT_SNAPSHOT_KEY } from './snapshot_cache.js';
import type { PublishResult, SnapshotPublisher } from './snapshot_publisher.js';

export type DirectorySourceOptions = ChangeWatcherOptions;

const RESOURCE_FILE = /\.(ya?ml|json)$/i;

function isResourceFile(name: string): boolean {
  return !name.startsWith('.') && RESOURCE_FILE.test(name);
}

interface Listing {
  /** Snapshot key → files (sorted). */
  readonly files: Map<string, string[]>;
  /** Names, sizes and mtimes: changes when anything relevant changed. */
  readonly signature: string;
}

export class DirectorySource {
  readonly name: string;
  private readonly log: Logger = getLogger('cp_source');
  private readonly watcher: ChangeWatcher;
  /** Called after every reload attempt. */
  onReload: ((result: PublishResult | Error) => void) | undefined;

  constructor(
    readonly dir: string,
    private readonly publisher: SnapshotPublisher,
    options: DirectorySourceOptions = {},
  ) {
    this.name = `directory ${dir}`;
    this.watcher = new ChangeWatcher(
      {
        watchedDirectories: () => this.watchedDirectories(),
        signature: () => this.list().signature,
        onChange: () => this.reload(),
      },
      this.log,
      options,
    );
  }

  /** Reads the directory once (throws when it cannot be read at all), then watches it. */
  start(): PublishResult | Error {
    statSync(this.dir); // a missing directory is a start-up error
    const result = this.reload();
    this.watcher.start();
    return result;
  }

  stop(): void {
    this.watcher.stop();
  }

  /** Reads every file and publishes; logs and returns the error when the change is refused. */
  reload(): PublishResult | Error {
    let result: PublishResult | Error;
    let handedOver = false; // the publisher records its own refusals
    try {
      const listing = this.list();
      this.watcher.settled(listing.signature);
      const resources = new Map<string, ResourceInput[]>();
      const errors: ConfigError[] = [];
      for (const [key, files] of listing.files) {
        const list: ResourceInput[] = [];
        for (const file of files) {
          let text: string;
          try {
            text = readFileSync(file, 'utf8');
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed since the listing
            errors.push(new ConfigError('', `cannot read the file: ${(e as Error).message}`, { file }));
            continue;
          }
          try {
            const parsed = parseResourceFile(text, file);
            for (const w of parsed.warnings) this.log.warn(w.toString());
            list.push(...parsed.resources);
          } catch (e) {
            if (!(e instanceof ConfigError)) throw e;
            errors.push(e);
          }
        }
        resources.set(key, list);
      }
      if (errors.length > 0) {
        throw ConfigError.combine(errors);
      }
      handedOver = true;
      result = this.publisher.update(this.name, resources);
      if (result.changed) {
        const parts = [...result.summary].map(([k, s]) => (k === DEFAULT_SNAPSHOT_KEY ? s : `node "${k}": ${s}`));
        this.log.info(`snapshot ${result.generation} from ${this.dir}: ${parts.join('; ')}`);
      } else {
        this.log.debug(`${this.dir} changed but the served resources did not`);
      }
    } catch (e) {
      result = e instanceof Error ? e : new Error(String(e));
      if (!handedOver) this.publisher.refuse(this.name, result);
      const serving = this.publisher.currentGeneration > 0 ? `still serving snapshot ${this.publisher.currentGeneration}` : 'nothing is served yet';
      this.log.error(`refusing the change in ${this.dir} (${serving}): ${result.message}`);
    }
    this.onReload?.(result);
    return result;
  }

  /** The resource files per snapshot key, and a signature of their state. */
  private list(): Listing {
    const files = new Map<string, string[]>([[DEFAULT_SNAPSHOT_KEY, []]]);
    const sig: string[] = [];
    for (const entry of readdirSync(this.dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith('.')) continue;
      const path = join(this.dir, entry.name);
      let st;
      try {
        st = statSync(path); // follows symlinks (e.g. Kubernetes ConfigMap mounts)
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        const own: string[] = [];
        for (const name of readdirSync(path).sort()) {
          if (!isResourceFile(name)) continue;
          const p = join(path, name);
          try {
            const s = statSync(p);
            if (!s.isFile()) continue;
            sig.push(`${p}:${s.size}:${s.mtimeMs}`);
            own.push(p);
          } catch {
            // gone since readdir
          }
        }
        files.set(entry.name, own);
      } else if (st.isFile() && isResourceFile(entry.name)) {
        sig.push(`${path}:${st.size}:${st.mtimeMs}`);
        files.get(DEFAULT_SNAPSHOT_KEY)?.push(path);
      }
    }
    return { files, signature: sig.join('\n') };
  }

  /** The directory and each snapshot-key subdirectory. */
  private watchedDirectories(): string[] {
    const dirs = [this.dir];
    try {
      for (const entry of readdirSync(this.dir, { withFileTypes: true })) {
        if (!entry.name.startsWith('.') && entry.isDirectory()) dirs.push(join(this.dir, entry.name));
      }
    } catch {
      // the scan reports an unreadable directory
    }
    return dirs;
  }
}
