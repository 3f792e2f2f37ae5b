/**
 * The import direction of STYLE.md 3.1, checked mechanically: a folder imports
 * only its own layer or lower ones, core never imports an extension, and an
 * extension never reaches into the listener or server layers. `server/` and
 * `main.ts` are the composition root and may import anything.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { REPO_ROOT } from '../support/legate_process.js';

const SRC = join(REPO_ROOT, 'src');
const RANK: Record<string, number> = {
  envoy: 0, generated: 0, common: 0,
  config: 1, secret: 1, stats: 1, logging: 1, stream_info: 1, event: 1, runtime: 1,
  network: 2, xds: 2,
  'http/codec': 3,
  upstream: 4,
  router: 5,
  http: 6,
  listener: 7,
  server: 8,
};

/** Side components (run as their own `legate <subcommand>`): the only folders each may import. */
const SIDE_COMPONENTS: Record<string, readonly string[]> = {
  ratelimit_service: ['ratelimit_service', 'generated', 'common', 'config'],
};

function layerOf(file: string): string {
  const rel = relative(SRC, file).split(sep).join('/');
  if (rel.startsWith('http/codec/')) return 'http/codec';
  const top = rel.split('/')[0]!;
  return top.endsWith('.ts') ? 'main' : top;
}

function* sources(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) { if (name !== 'generated') yield* sources(p); } else if (name.endsWith('.ts')) yield p;
  }
}

it('imports follow the layer order', () => {
  const violations: string[] = [];
  const importRe = /^(?:import|export)(\s+type)?[^'"]*from\s+'(\.[^']+)'/gm;
  let scanned = 0;
  for (const file of sources(SRC)) {
    const from = layerOf(file);
    if (from === 'main' || from === 'server') continue;
    for (const m of readFileSync(file, 'utf8').matchAll(importRe)) {
      scanned++;
      const typeOnly = m[1] !== undefined;
      const to = layerOf(normalize(join(dirname(file), m[2]!)));
      const where = `${relative(REPO_ROOT, file)} imports ${m[2]}`;
      const side = SIDE_COMPONENTS[from];
      if (side !== undefined) {
        if (!side.includes(to)) violations.push(`${where}: ${from}/ may import only ${side.join(', ')}`);
        continue;
      }
      if (SIDE_COMPONENTS[to] !== undefined && from !== 'main') violations.push(`${where}: ${to}/ is a side component; only main.ts starts it`);
      if (to === 'extensions' && from !== 'extensions') violations.push(`${where}: core must not import extensions`);
      if (from === 'extensions') {
        if (to === 'listener' || to === 'server') violations.push(`${where}: an extension must not import ${to}/`);
        continue;
      }
      const a = RANK[from], b = RANK[to];
      if (a !== undefined && b !== undefined && b > a && !(typeOnly && to === 'generated')) {
        violations.push(`${where}: ${from}/ (L${a}) must not import ${to}/ (L${b})`);
      }
    }
  }
  assert.ok(scanned > 300, `scanned ${scanned} imports`);
  assert.deepEqual(violations, []);
});
