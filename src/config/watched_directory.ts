/**
 * Reloads file-based material when a watched directory changes, after
 * Envoy's `WatchedDirectory` (source/common/config/watched_directory.cc):
 * a change anywhere in the directory (e.g. an atomic symlink swap, or files
 * replaced by rename) re-reads the material after a short debounce. A reload
 * that fails keeps the previous material and logs why; open connections are
 * never touched, new handshakes see the new material.
 *
 * Used by TLS certificates and validation contexts (`watched_directory`) and
 * by SDS secrets whose material lives in files.
 */
import { watch, type FSWatcher } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { getLogger } from '../common/logger.js';

const log = getLogger('secret');
const DEBOUNCE_MS = 100;
const watchers = new Set<FSWatcher>();

/**
 * Watches `dir` (relative to `configDir`) and calls `reload` after changes
 * settle. `reload` returns true when something new was applied; it throws
 * when the new files are unusable (logged, old material kept). Returns a
 * function that stops the watch.
 */
export function watchDirectory(dir: string, configDir: string, what: string, reload: () => boolean): () => void {
  const abs = isAbsolute(dir) ? dir : resolve(configDir, dir);
  let timer: NodeJS.Timeout | null = null;
  const fire = (): void => {
    timer = null;
    try {
      if (reload()) log.info(`${what}: reloaded after a change in ${abs}`);
    } catch (e) {
      log.warn(`${what}: keeping the previous material; the files in ${abs} do not load: ${(e as Error).message}`);
    }
  };
  let w: FSWatcher;
  try {
    w = watch(abs, { persistent: false }, () => {
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(fire, DEBOUNCE_MS);
      timer.unref();
    });
  } catch (e) {
    throw new Error(`cannot watch directory ${abs}: ${(e as Error).message}`);
  }
  w.on('error', (e) => log.warn(`${what}: watching ${abs} failed: ${e.message}`));
  watchers.add(w);
  return () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    w.close();
    watchers.delete(w);
  };
}

/** Stops every directory watch (tests). */
export function closeAllDirectoryWatches(): void {
  for (const w of watchers) w.close();
  watchers.clear();
}
