// Loads undici's Pool (undici 7: the line that supports Node 20) and records its version.
import { createRequire } from 'node:module';
import type { Pool as UndiciPool } from 'undici';

const require = createRequire(import.meta.url);

export interface LoadedUndici {
  Pool: typeof UndiciPool;
  version: string;
  mode: 'index';
}

let cached: LoadedUndici | undefined;

export function loadUndici(): LoadedUndici {
  if (cached) return cached;
  const version = (require('undici/package.json') as { version: string }).version;
  const { Pool } = require('undici') as { Pool: typeof UndiciPool };
  cached = { Pool, version, mode: 'index' };
  return cached;
}
