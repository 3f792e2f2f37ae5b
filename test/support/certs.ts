/**
 * Test certificates, made at test time with the openssl CLI (no private key is
 * ever committed). One temp directory per test process; each certificate is
 * issued once and cached. EC P-256 keys keep generation fast.
 *
 *   const c = testCerts();
 *   c.ca.cert                                  // path of the test CA certificate
 *   c.issue('server', { dns: ['example.com'] })  // {cert, key, certPem, keyPem, ...}
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';

export interface CertFiles {
  /** Path of the PEM certificate. */
  readonly cert: string;
  /** Path of the PEM private key. */
  readonly key: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** Upper-case hex serial as openssl prints it. */
  readonly serial: string;
  /** Lower-case hex SHA-256 of the DER certificate (Envoy's %DOWNSTREAM_PEER_FINGERPRINT_256%). */
  readonly sha256: string;
}

export interface IssueOptions {
  /** Subject CN (default: the name). */
  cn?: string;
  /** Extra subject parts, e.g. '/O=Legate/OU=test'. */
  subjectExtra?: string;
  dns?: string[];
  uri?: string[];
  ip?: string[];
  email?: string[];
  /** Which CA signs it: the main test CA (default) or a second, untrusted one. */
  ca?: 'main' | 'other';
  /** Serial number (decimal); default: a counter. */
  serial?: number;
  /** clientAuth instead of serverAuth extended key usage (both by default). */
  usage?: 'server' | 'client' | 'both';
}

export interface TestCerts {
  readonly dir: string;
  /** The main test CA (certificate + key). */
  readonly ca: CertFiles;
  /** A second CA nobody trusts. */
  readonly otherCa: CertFiles;
  /** Issues (or returns the cached) certificate named `name` into the temp dir. */
  issue(name: string, opts?: IssueOptions): CertFiles;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function filesFor(dir: string, name: string): CertFiles {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const certPem = readFileSync(cert, 'utf8');
  const x = new X509Certificate(certPem);
  return {
    cert, key, certPem, keyPem: readFileSync(key, 'utf8'),
    serial: x.serialNumber.toUpperCase(),
    sha256: x.fingerprint256.replace(/:/g, '').toLowerCase(),
  };
}

function makeCa(dir: string, name: string, cn: string): CertFiles {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '3650', '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  return filesFor(dir, name);
}

let cached: TestCerts | null = null;

/** The per-process test PKI (created on first use). */
export function testCerts(): TestCerts {
  if (cached !== null) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'legate-certs-'));
  const ca = makeCa(dir, 'ca', 'Legate Test CA');
  const otherCa = makeCa(dir, 'other-ca', 'Untrusted Test CA');
  const issued = new Map<string, CertFiles>();
  let nextSerial = 1000;
  const issue = (name: string, opts: IssueOptions = {}): CertFiles => {
    const hit = issued.get(name);
    if (hit !== undefined) return hit;
    const sans = [
      ...(opts.dns ?? []).map((d) => `DNS:${d}`),
      ...(opts.uri ?? []).map((u) => `URI:${u}`),
      ...(opts.ip ?? []).map((i) => `IP:${i}`),
      ...(opts.email ?? []).map((e) => `email:${e}`),
    ];
    const usage = opts.usage ?? 'both';
    const eku = usage === 'server' ? 'serverAuth' : usage === 'client' ? 'clientAuth' : 'serverAuth,clientAuth';
    const ext = [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      `extendedKeyUsage=${eku}`,
      ...(sans.length > 0 ? [`subjectAltName=${sans.join(',')}`] : []),
    ].join('\n');
    writeFileSync(join(dir, `${name}.ext`), ext + '\n');
    openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${opts.cn ?? name}${opts.subjectExtra ?? ''}`], dir);
    const signer = opts.ca === 'other' ? 'other-ca' : 'ca';
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${signer}.crt`, '-CAkey', `${signer}.key`,
      '-set_serial', String(opts.serial ?? nextSerial++), '-days', '365', '-out', `${name}.crt`, '-extfile', `${name}.ext`], dir);
    const f = filesFor(dir, name);
    issued.set(name, f);
    return f;
  };
  cached = { dir, ca, otherCa, issue };
  return cached;
}
