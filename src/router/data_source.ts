/**
 * Reading an `envoy.config.core.v3.DataSource` once, at config time (for
 * `direct_response.body`), after Envoy's `ConfigUtility::parseDirectResponseBody`
 * / `Config::DataSource::read`. A relative `filename` is resolved against the
 * directory of the config file.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DataSource } from '../generated/envoy/config/core/v3/base_pb.js';

/** The bytes of `ds`; throws an Error describing the problem (missing file, too large...). */
export function readDataSource(ds: DataSource, configDir: string, maxBytes: number): Buffer {
  const s = ds.specifier;
  switch (s.case) {
    case 'filename': {
      const file = resolve(configDir, s.value);
      let size: number;
      try {
        const st = statSync(file);
        if (!st.isFile()) throw new Error('not a file');
        size = st.size;
      } catch {
        throw new Error(`response body file ${s.value} does not exist`);
      }
      if (size > maxBytes) throw new Error(`response body file ${s.value} size is ${size} bytes; maximum is ${maxBytes}`);
      return readFileSync(file);
    }
    case 'inlineBytes':
    case 'inlineString': {
      const buf = s.case === 'inlineBytes' ? Buffer.from(s.value) : Buffer.from(s.value, 'utf8');
      if (buf.length > maxBytes) throw new Error(`response body size is ${buf.length} bytes; maximum is ${maxBytes}`);
      return buf;
    }
    case 'environmentVariable': {
      const v = process.env[s.value];
      if (v === undefined) throw new Error(`environment variable ${s.value} does not exist`);
      const buf = Buffer.from(v, 'utf8');
      if (buf.length > maxBytes) throw new Error(`response body size is ${buf.length} bytes; maximum is ${maxBytes}`);
      return buf;
    }
    default:
      return Buffer.alloc(0);
  }
}
