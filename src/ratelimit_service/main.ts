/**
 * `legate ratelimit-service`: the command line of Legate's Rate Limit Service.
 *
 *   legate ratelimit-service --config <limits.yaml> [--config <more.yaml>...]
 *                            [--port 8081] [--address 127.0.0.1] [-l <level>]
 *
 * Each limits file holds one domain (envoyproxy/ratelimit's format, see
 * limits_config.ts). Prints `ratelimit service listening on <addr>:<port>`
 * once bound (port 0 picks a free port), then serves until SIGTERM / SIGINT.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/config_error.js';
import { getLogger } from '../common/logger.js';
import { parseLimitsConfig, type DomainLimits } from './limits_config.js';
import { RateLimiter } from './rate_limiter.js';
import { RateLimitServer } from './ratelimit_server.js';
import { UsageError, applyLogLevelFlag, cliFlags, parsePortFlag } from '../common/cli_args.js';

export const RATELIMIT_SERVICE_HELP = `Usage: legate ratelimit-service --config <limits.yaml> [options]

Serves envoy.service.ratelimit.v3.RateLimitService (ShouldRateLimit) for the
envoy.filters.http.ratelimit filter, with in-memory fixed-window counters.

  --config <file>          a limits file (domain + descriptors, envoyproxy/ratelimit's
                           format); repeat for more domains
  --port <port>            gRPC port (default 8081; 0 = any free port)
  --address <addr>         address to bind (default 127.0.0.1)
  -l, --log-level <level>  trace, debug, info (default), warning, error, critical, off
  -h, --help               this text
`;


interface CliOptions {
  help: boolean;
  configs: string[];
  port: number;
  address: string;
}

function parseArgs(argv: string[]): CliOptions {
  const o: CliOptions = { help: false, configs: [], port: 8081, address: '127.0.0.1' };
  for (const { flag, arg, value } of cliFlags(argv)) {
    switch (flag) {
      case '-h':
      case '--help':
        o.help = true;
        break;
      case '--config':
        o.configs.push(value());
        break;
      case '--port':
        o.port = parsePortFlag(flag, value());
        break;
      case '--address':
        o.address = value();
        break;
      case '-l':
      case '--log-level':
        applyLogLevelFlag(flag, value());
        break;
      default:
        throw new UsageError(`unknown argument "${arg}" (see --help)`);
    }
  }
  if (!o.help && o.configs.length === 0) throw new UsageError('no limits: give --config <limits.yaml> (see --help)');
  return o;
}

/** Reads and checks every limits file; throws ConfigError (or Error for an unreadable file / duplicate domain). */
export function loadLimits(files: readonly string[]): RateLimiter {
  const domains: DomainLimits[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (e) {
      throw new Error(`cannot read limits file ${f}: ${(e as Error).message}`);
    }
    domains.push(parseLimitsConfig(text, f));
  }
  return new RateLimiter(domains);
}

/** Runs the service; resolves to an exit code, or -1 while it keeps serving. */
export async function runRateLimitService(argv: string[]): Promise<number> {
  let options: CliOptions;
  try {
    options = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`legate ratelimit-service: ${e.message}\n`);
    return 1;
  }
  if (options.help) {
    process.stdout.write(RATELIMIT_SERVICE_HELP);
    return 0;
  }
  const log = getLogger('ratelimit');
  let server: RateLimitServer;
  try {
    server = new RateLimitServer(loadLimits(options.configs));
    await server.listen(options.address, options.port);
  } catch (e) {
    const msg = e instanceof ConfigError || e instanceof Error ? e.message : String(e);
    process.stderr.write(`legate ratelimit-service: ${msg}\n`);
    return 1;
  }
  const host = options.address.includes(':') ? `[${options.address}]` : options.address;
  process.stdout.write(`ratelimit service listening on ${host}:${server.port}\n`);
  const shutdown = (signal: string): void => {
    log.info(`caught ${signal}, shutting down`);
    server.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  return -1;
}
