/**
 * Command-line options with Envoy's flag names (`envoy --help`), so existing
 * habits and scripts carry over. Unknown flags are an error, as in Envoy.
 */
import { parseLogLevel, type LogLevel } from '../common/logger.js';

export interface Options {
  configPath: string | null;
  configYaml: string | null;
  mode: 'serve' | 'validate' | 'init_only';
  logLevel: LogLevel;
  componentLogLevel: Array<[string, LogLevel]>;
  logPath: string | null;
  serviceCluster: string | null;
  serviceNode: string | null;
  serviceZone: string | null;
  drainTimeS: number;
  parentShutdownTimeS: number;
  drainStrategy: 'gradual' | 'immediate';
  concurrency: number;
  baseId: number;
  restartEpoch: number;
  fileFlushIntervalMsec: number;
  allowUnknownStaticFields: boolean;
  rejectUnknownDynamicFields: boolean;
  ignoreUnknownDynamicFields: boolean;
  localAddressIpVersion: 'v4' | 'v6';
  version: boolean;
  help: boolean;
}

export class OptionsError extends Error {}

interface FlagSpec {
  names: string[];
  arg: string | null;
  help: string;
  apply(o: Options, v: string): void;
}

function int(flag: string, v: string, min = 0): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new OptionsError(`${flag}: expected an integer >= ${min}, got '${v}'`);
  return n;
}

const FLAGS: FlagSpec[] = [
  { names: ['-c', '--config-path'], arg: 'path', help: 'Path to the bootstrap (YAML or JSON)', apply: (o, v) => { o.configPath = v; } },
  { names: ['--config-yaml'], arg: 'yaml', help: 'Inline YAML bootstrap, merged over --config-path', apply: (o, v) => { o.configYaml = v; } },
  { names: ['--mode'], arg: 'serve|validate|init_only', help: 'serve (default), or validate the config and exit', apply: (o, v) => {
    if (v !== 'serve' && v !== 'validate' && v !== 'init_only') throw new OptionsError(`--mode: expected serve, validate or init_only, got '${v}'`);
    o.mode = v;
  } },
  { names: ['-l', '--log-level'], arg: 'level', help: 'trace, debug, info, warning, error, critical, off (default info)', apply: (o, v) => {
    const l = parseLogLevel(v);
    if (l === null) throw new OptionsError(`--log-level: unknown level '${v}'`);
    o.logLevel = l;
  } },
  { names: ['--component-log-level'], arg: 'name:level,...', help: 'Per-component log levels', apply: (o, v) => {
    for (const part of v.split(',')) {
      const [n, lv] = part.split(':');
      const l = lv === undefined ? null : parseLogLevel(lv);
      if (!n || l === null) throw new OptionsError(`--component-log-level: bad entry '${part}'`);
      o.componentLogLevel.push([n, l]);
    }
  } },
  { names: ['--log-path'], arg: 'path', help: 'Write the application log to this file', apply: (o, v) => { o.logPath = v; } },
  { names: ['--log-format'], arg: 'format', help: 'Accepted for compatibility; the format is Envoy\'s default', apply: () => {} },
  { names: ['--service-cluster'], arg: 'name', help: 'Overrides node.cluster', apply: (o, v) => { o.serviceCluster = v; } },
  { names: ['--service-node'], arg: 'name', help: 'Overrides node.id', apply: (o, v) => { o.serviceNode = v; } },
  { names: ['--service-zone'], arg: 'zone', help: 'Overrides node.locality.zone', apply: (o, v) => { o.serviceZone = v; } },
  { names: ['--drain-time-s'], arg: 'seconds', help: 'How long to drain connections on shutdown (default 600)', apply: (o, v) => { o.drainTimeS = int('--drain-time-s', v); } },
  { names: ['--parent-shutdown-time-s'], arg: 'seconds', help: 'Hot restart: accepted for compatibility (default 900)', apply: (o, v) => { o.parentShutdownTimeS = int('--parent-shutdown-time-s', v); } },
  { names: ['--drain-strategy'], arg: 'gradual|immediate', help: 'How connections are told to close during drain', apply: (o, v) => {
    if (v !== 'gradual' && v !== 'immediate') throw new OptionsError(`--drain-strategy: expected gradual or immediate, got '${v}'`);
    o.drainStrategy = v;
  } },
  { names: ['--concurrency'], arg: 'n', help: 'Worker count (Legate currently runs one event loop)', apply: (o, v) => { o.concurrency = int('--concurrency', v, 1); } },
  { names: ['--base-id'], arg: 'n', help: 'Accepted for compatibility', apply: (o, v) => { o.baseId = int('--base-id', v); } },
  { names: ['--restart-epoch'], arg: 'n', help: 'Accepted for compatibility', apply: (o, v) => { o.restartEpoch = int('--restart-epoch', v); } },
  { names: ['--file-flush-interval-msec'], arg: 'ms', help: 'Access log flush interval (default 10000)', apply: (o, v) => { o.fileFlushIntervalMsec = int('--file-flush-interval-msec', v, 1); } },
  { names: ['--allow-unknown-static-fields'], arg: null, help: 'Warn instead of failing on unknown bootstrap fields', apply: (o) => { o.allowUnknownStaticFields = true; } },
  { names: ['--reject-unknown-dynamic-fields'], arg: null, help: 'Reject xDS resources with unknown fields', apply: (o) => { o.rejectUnknownDynamicFields = true; } },
  { names: ['--ignore-unknown-dynamic-fields'], arg: null, help: 'Ignore unknown fields in xDS resources silently', apply: (o) => { o.ignoreUnknownDynamicFields = true; } },
  { names: ['--local-address-ip-version'], arg: 'v4|v6', help: 'IP version of the local address (default v4)', apply: (o, v) => {
    if (v !== 'v4' && v !== 'v6') throw new OptionsError(`--local-address-ip-version: expected v4 or v6, got '${v}'`);
    o.localAddressIpVersion = v;
  } },
  { names: ['--disable-hot-restart'], arg: null, help: 'Accepted for compatibility', apply: () => {} },
  { names: ['--version'], arg: null, help: 'Print the version and exit', apply: (o) => { o.version = true; } },
  { names: ['-h', '--help'], arg: null, help: 'Print this help and exit', apply: (o) => { o.help = true; } },
];

export function defaultOptions(): Options {
  return {
    configPath: null, configYaml: null, mode: 'serve', logLevel: 'info', componentLogLevel: [], logPath: null,
    serviceCluster: null, serviceNode: null, serviceZone: null, drainTimeS: 600, parentShutdownTimeS: 900,
    drainStrategy: 'gradual', concurrency: 1, baseId: 0, restartEpoch: 0, fileFlushIntervalMsec: 10000,
    allowUnknownStaticFields: false, rejectUnknownDynamicFields: false, ignoreUnknownDynamicFields: false,
    localAddressIpVersion: 'v4', version: false, help: false,
  };
}

/** Parses argv (without node and script). Accepts `--flag value` and `--flag=value`. */
export function parseOptions(argv: readonly string[]): Options {
  const o = defaultOptions();
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]!;
    let inline: string | null = null;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq !== -1) { inline = a.slice(eq + 1); a = a.slice(0, eq); }
    const spec = FLAGS.find((f) => f.names.includes(a));
    if (spec === undefined) {
      const near = FLAGS.flatMap((f) => f.names).filter((n) => n.startsWith('--') && a.startsWith('--') && similar(n, a));
      throw new OptionsError(`unknown flag '${a}'${near.length > 0 ? ` (did you mean ${near[0]}?)` : ''}; see --help`);
    }
    if (spec.arg === null) {
      if (inline !== null) throw new OptionsError(`${a} takes no value`);
      spec.apply(o, '');
      continue;
    }
    const v = inline ?? argv[++i];
    if (v === undefined) throw new OptionsError(`${a} needs a value (${spec.arg})`);
    spec.apply(o, v);
  }
  return o;
}

function similar(a: string, b: string): boolean {
  // Edit distance <= 2 is "did you mean" material.
  const m = a.length, n = b.length;
  if (Math.abs(m - n) > 2) return false;
  const d: number[] = Array.from({ length: n + 1 }, (_, j) => j);
  for (let i = 1; i <= m; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= n; j++) {
      const t = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = t;
    }
  }
  return d[n]! <= 2;
}

export function helpText(): string {
  const lines = ['Usage: legate -c <bootstrap.yaml> [options]', '', 'Legate: an Envoy-compatible proxy. Flags follow Envoy\'s.', '', 'Options:'];
  for (const f of FLAGS) {
    const left = `  ${f.names.join(', ')}${f.arg === null ? '' : ` <${f.arg}>`}`;
    lines.push(`${left.padEnd(44)}${f.help}`);
  }
  lines.push('', 'Subcommands:', '  legate control-plane ...                    Run the xDS control plane (see README)');
  return `${lines.join('\n')}\n`;
}
