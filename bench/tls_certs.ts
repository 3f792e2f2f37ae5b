// A throw-away self-signed certificate for the bench's TLS runs, made with
// openssl at bench time in the bench's temp dir (never committed, removed at
// exit). ECDSA P-256, CN and SAN for localhost and 127.0.0.1.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export interface BenchCert {
  certFile: string;
  keyFile: string;
}

export function makeBenchCert(dir: string): BenchCert {
  const certFile = join(dir, 'bench-cert.pem');
  const keyFile = join(dir, 'bench-key.pem');
  const r = spawnSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`openssl could not make the bench certificate (exit ${r.status}): ${r.stderr ?? r.error}`);
  return { certFile, keyFile };
}
