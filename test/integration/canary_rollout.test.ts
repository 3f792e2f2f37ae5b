// The README's canary walk-through, as a test: `legate control-plane
// --services services.yaml` drives a Legate proxy over ADS, and a weighted
// split moves traffic from v1 to v2 (0% → 10% → 50% → 100%) while a load loop
// runs; no request fails and the observed split follows the configured one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startLegate } from '../support/legate_process.js';
import { eventually, startUpstream } from '../support/http_util.js';
import { startH1Loop } from '../support/traffic.js';
import { adsBootstrapYaml } from '../support/xds_bootstrap.js';
import { startControlPlane, tempResourceDir, writeResource } from '../control_plane/xds_fixtures.js';

function servicesYaml(v1: number, v2: number, w1: number, w2: number): string {
  return `listener:
  name: ingress
  address: 127.0.0.1
  port: 0
services:
  web:
    versions:
      v1: { endpoints: [127.0.0.1:${v1}] }
      v2: { endpoints: [127.0.0.1:${v2}] }
routes:
- name: web
  match: { prefix: / }
  split: [{ to: web/v1, weight: ${w1} }, { to: web/v2, weight: ${w2} }]
  retries: { attempts: 2, on: "connect-failure,reset" }
`;
}

test('canary roll-out 0% → 10% → 50% → 100% through Legate without a failed request', async () => {
  const v1 = await startUpstream((_req, res) => res.end('v1'));
  const v2 = await startUpstream((_req, res) => res.end('v2'));
  const dir = tempResourceDir();
  const file = join(dir, 'services.yaml');
  writeResource(dir, 'services.yaml', servicesYaml(v1.port, v2.port, 100, 0));
  const cp = await startControlPlane(undefined, ['--services', file]);
  const legate = await startLegate(adsBootstrapYaml({ xdsPort: cp.xdsPort, nodeId: 'edge-1' }), { expectListeners: ['ingress'], timeoutMs: 20000 });
  const port = legate.ports.get('ingress')!;
  const load = startH1Loop(port, '/', { parallel: 2, max: 1_000_000 });
  const seen = load.result.bodies;
  /** The v2 share of the next n responses. */
  const sample = async (n: number): Promise<number> => {
    const from = seen.length;
    await eventually(() => seen.length >= from + n, 20000, `${n} responses`);
    return seen.slice(from, from + n).filter((b) => b === 'v2').length / n;
  };
  try {
    assert.equal(await sample(50), 0, '0% on v2');
    const step = async (w2: number): Promise<void> => {
      writeResource(dir, 'services.yaml', servicesYaml(v1.port, v2.port, 100 - w2, w2));
      if (w2 > 0) await eventually(() => seen.slice(-50).includes('v2'), 5000, `v2 traffic at ${w2}%`);
      await new Promise((r) => setTimeout(r, 200)); // let the new route settle
    };
    await step(10);
    const at10 = await sample(400);
    assert.ok(at10 > 0.04 && at10 < 0.18, `10% split observed as ${(at10 * 100).toFixed(1)}%`);
    await step(50);
    const at50 = await sample(400);
    assert.ok(at50 > 0.40 && at50 < 0.60, `50% split observed as ${(at50 * 100).toFixed(1)}%`);
    await step(100);
    await eventually(() => seen.slice(-20).every((b) => b === 'v2'), 5000, 'all on v2');
    assert.equal(await sample(100), 1, '100% on v2');
  } finally {
    await load.stop();
    await legate.stop('SIGKILL');
    await cp.stop();
    await v1.close();
    await v2.close();
  }
  assert.deepEqual(load.result.failures, [], 'no request failed during the roll-out');
});
