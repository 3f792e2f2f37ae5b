// Loads undici's Pool.
//
// The devDependency (undici 8.x) declares engines node >= 22.19 and its index
// fails to load on Node 20 (an interceptor touches zlib.createZstdDecompress,
// which Node 20 lacks). The HTTP/1.1 client core (Pool/Client + the request/
// stream API) does not need it, so on older Node we load those modules
// directly and attach the API to Dispatcher.prototype exactly as undici's
// index.js does. The dispatch path measured is the same code either way.

import { createRequire } from 'node:module';
import type { Pool as UndiciPool } from 'undici';

const require = createRequire(import.meta.url);

export interface LoadedUndici {
  Pool: typeof UndiciPool;
  version: string;
  /** 'index' when `import('undici')` works, 'core' when loaded via the fallback. */
  mode: 'index' | 'core';
}

let cached: LoadedUndici | undefined;

export function loadUndici(): LoadedUndici {
  if (cached) return cached;
  let version = 'unknown';
  try {
    version = (require('undici/package.json') as { version: string }).version;
  } catch {
    // ignore
  }
  try {
    const u = require('undici') as { Pool: typeof UndiciPool };
    cached = { Pool: u.Pool, version, mode: 'index' };
  } catch {
    const Pool = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
    const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as { prototype: Record<string, unknown> };
    const api = require('undici/lib/api/index.js') as Record<string, unknown>;
    if (typeof Dispatcher.prototype['stream'] !== 'function') Object.assign(Dispatcher.prototype, api);
    cached = { Pool, version, mode: 'core' };
  }
  return cached;
}
