// Small helpers shared by the bench's processes.

import { realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** True when the module with this import.meta.url is the process entry point. */
export function isMain(metaUrl: string): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return pathToFileURL(realpathSync(entry)).href === metaUrl;
  } catch {
    return false;
  }
}

/**
 * Exit when the parent closes our stdin. The bench spawns its helper servers
 * with a stdin pipe (and --exit-with-stdin), so they die with the bench even
 * if it is SIGKILLed. Also exit cleanly on SIGTERM/SIGINT.
 */
export function exitWhenStdinCloses(): void {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
}

/** The repository root (this file lives in <root>/dist/bench or <root>/bench). */
export function repoRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/bench -> ../.. ; bench -> ..
  return here.endsWith(`${'/'}dist${'/'}bench`) ? resolve(here, '../..') : resolve(here, '..');
}

/** Hop-by-hop headers (RFC 9110 7.6.1) a proxy must not forward. */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
]);
