/**
 * A watched services file (services_file.ts) as a source of the control
 * plane: on every change it is read, translated (services_translator.ts)
 * and published for every node. A change that does not parse, translate or
 * pass the consistency check is refused as a whole with a log line naming
 * file:line:column; the previous snapshot stays served.
 *
 * Its resources are served next to those of a resource directory, if one is
 * given too; a resource name used by both is refused as a duplicate.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { getLogger, type Logger } from '../common/logger.js';
import type { ConfigWarning } from '../config/config_error.js';
import { ChangeWatcher, type ChangeWatcherOptions } from './change_watcher.js';
import { parseServicesFile } from './services_file.js';
import { translateServices } from './services_translator.js';
import { DEFAULT_SNAPSHOT_KEY } from './snapshot_cache.js';
import type { PublishResult, SnapshotPublisher } from './snapshot_publisher.js';

export class ServicesSource {
  readonly name: string;
  private readonly log: Logger = getLogger('cp_source');
  private readonly watcher: ChangeWatcher;
  onReload: ((result: PublishResult | Error) => void) | undefined;

  constructor(
    readonly file: string,
    private readonly publisher: SnapshotPublisher,
    options: ChangeWatcherOptions = {},
  ) {
    this.name = `services file ${file}`;
    this.watcher = new ChangeWatcher(
      {
        // Editors and config tools replace the file (rename), which only the directory sees.
        watchedDirectories: () => [dirname(file)],
        signature: () => this.signature(),
        onChange: () => this.reload(),
      },
      this.log,
      options,
    );
  }

  private signature(): string {
    try {
      const st = statSync(this.file);
      return `${st.size}:${st.mtimeMs}`;
    } catch {
      return 'missing';
    }
  }

  /** Reads the file once (a missing file is a start-up error), then watches it. */
  start(): PublishResult | Error {
    statSync(this.file);
    const result = this.reload();
    this.watcher.start();
    return result;
  }

  stop(): void {
    this.watcher.stop();
  }

  reload(): PublishResult | Error {
    let result: PublishResult | Error;
    let handedOver = false;
    try {
      this.watcher.settled(this.signature());
      const text = readFileSync(this.file, 'utf8');
      const warnings: ConfigWarning[] = [];
      const resources = translateServices(parseServicesFile(text, this.file), warnings);
      for (const w of warnings) this.log.warn(w.toString());
      handedOver = true;
      result = this.publisher.update(this.name, new Map([[DEFAULT_SNAPSHOT_KEY, resources]]));
      if (result.changed) this.log.info(`snapshot ${result.generation} from ${this.file}: ${result.summary.get(DEFAULT_SNAPSHOT_KEY) ?? ''}`);
    } catch (e) {
      result = e instanceof Error ? e : new Error(String(e));
      if (!handedOver) this.publisher.refuse(this.name, result);
      const serving = this.publisher.currentGeneration > 0 ? `still serving snapshot ${this.publisher.currentGeneration}` : 'nothing is served yet';
      this.log.error(`refusing the change of ${this.file} (${serving}): ${result.message}`);
    }
    this.onReload?.(result);
    return result;
  }
}
