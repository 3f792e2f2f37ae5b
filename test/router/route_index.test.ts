import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { MIN_INDEXED_RUN } from '../../src/router/route_index.js';
import { req, table } from './test_util.js';

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEGMENTS = ['', 'a', 'ab', 'api', 'api/', 'api/v1', 'api/v1/', 'b', 'static', 'x/y', 'A'];

function randomRoutes(r: () => number, count: number): string {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const seg = `/${pick(SEGMENTS)}`;
    const kind = r();
    let match: string;
    if (kind < 0.45) match = `{prefix: "${seg}"}`;
    else if (kind < 0.6) match = `{path: "${seg}"}`;
    else if (kind < 0.7) match = `{path_separated_prefix: "${seg.length > 1 && !seg.endsWith('/') ? seg : '/api'}"}`;
    else if (kind < 0.8) match = `{prefix: "${seg}", case_sensitive: false}`;
    else if (kind < 0.9) match = `{safe_regex: {regex: "${seg}.*"}}`;
    else match = `{prefix: "${seg}", headers: [{name: x-h, present_match: true}]}`;
    if (r() < 0.15) match = match.replace(/}$/, ', runtime_fraction: {default_value: {numerator: 50}, runtime_key: k}}');
    lines.push(`  - {match: ${match}, route: {cluster: c${i}}}`);
  }
  return `
virtual_hosts:
- name: vh
  domains: ["*"]
  routes:
${lines.join('\n')}`;
}

describe('route index', () => {
  it('gives the same route as a linear scan (randomised tables and requests)', () => {
    const r = rng(12345);
    let indexedTables = 0;
    for (let tIdx = 0; tIdx < 40; tIdx++) {
      const t = table(randomRoutes(r, 10 + Math.floor(r() * 60)));
      const vh = t.virtualHosts[0]!;
      if ((vh as unknown as { plan: unknown }).plan !== null) indexedTables++;
      for (let q = 0; q < 200; q++) {
        const path = `/${SEGMENTS[Math.floor(r() * SEGMENTS.length)]}${r() < 0.5 ? `/${SEGMENTS[Math.floor(r() * SEGMENTS.length)]}` : ''}${r() < 0.3 ? '?q=1' : ''}`;
        const h = req('h', path, r() < 0.5 ? [['x-h', '1']] : []);
        const random = Math.floor(r() * 100);
        assert.equal(vh.route(h, random), vh.routeLinear(h, random), `table ${tIdx} path ${path}`);
      }
    }
    assert.ok(indexedTables > 10, `only ${indexedTables} tables were indexed`);
  });

  it('the lowest-numbered full match wins across trie depths', () => {
    const routes = [
      '{match: {prefix: /api/v1/, headers: [{name: x-a, present_match: true}]}, route: {cluster: deep-a}}',
      '{match: {prefix: /api}, route: {cluster: shallow}}',
      '{match: {prefix: /api/v1/users}, route: {cluster: deeper}}',
    ];
    for (let i = 0; i < MIN_INDEXED_RUN; i++) routes.push(`{match: {prefix: /filler${i}}, route: {cluster: f${i}}}`);
    const t = table(`
virtual_hosts:
- name: vh
  domains: ["*"]
  routes:
${routes.map((x) => `  - ${x}`).join('\n')}`);
    const vh = t.virtualHosts[0]!;
    assert.notEqual((vh as unknown as { plan: unknown }).plan, null);
    const c = (path: string, extra: Array<[string, string]> = []) => vh.route(req('h', path, extra), 0)?.routeEntry?.clusterName(req('h', path), 0);
    assert.equal(c('/api/v1/users', [['x-a', '1']]), 'deep-a');
    assert.equal(c('/api/v1/users'), 'shallow');
    assert.equal(c('/filler3/x'), 'f3');
    assert.equal(c('/nothing'), undefined);
  });
});
