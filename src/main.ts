/**
 * `legate` entry point: Envoy's command line (`-c`, `--config-yaml`,
 * `--mode validate`, `-l`, ...) in front of the Server, and
 * `legate control-plane ...` for Legate's xDS control plane
 * (src/control_plane/main.ts), and `legate ratelimit-service ...` for its
 * Rate Limit Service (src/ratelimit_service/main.ts).
 */
import { ConfigError } from './config/config_error.js';
import { getLogger } from './common/logger.js';
import { helpText, OptionsError, parseOptions } from './server/options.js';
import { VERSION } from './server/version.js';

async function main(argv: string[]): Promise<number> {
  let options;
  try {
    options = parseOptions(argv);
  } catch (e) {
    if (e instanceof OptionsError) {
      process.stderr.write(`legate: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  if (options.help) { process.stdout.write(helpText()); return 0; }
  if (options.version) {
    process.stdout.write(`legate version: ${VERSION}/envoy-api-v3/Node ${process.version}/RELEASE\n`);
    return 0;
  }
  if (options.configPath === null && options.configYaml === null) {
    process.stderr.write('legate: no configuration: give -c <bootstrap.yaml> and/or --config-yaml (see --help)\n');
    return 1;
  }
  // Loaded here, not at the top, so `legate control-plane` does not load the whole proxy.
  const { Server } = await import('./server/server.js');
  const server = new Server(options);
  try {
    if (options.mode === 'validate') {
      await server.initialize(false);
      process.stdout.write(`configuration '${options.configPath ?? '--config-yaml'}' OK\n`);
      return 0;
    }
    await server.start();
    return -1; // keep running
  } catch (e) {
    const msg = e instanceof ConfigError || e instanceof Error ? e.message : String(e);
    if (options.mode === 'validate') process.stderr.write(`${msg}\n`);
    else getLogger('main').critical(`error initializing configuration '${options.configPath ?? '--config-yaml'}': ${msg}`);
    if (!(e instanceof ConfigError) && e instanceof Error && options.logLevel === 'debug') process.stderr.write(`${e.stack}\n`);
    return 1;
  }
}

const args = process.argv.slice(2);
const run = args[0] === 'control-plane'
  ? import('./control_plane/main.js').then((m) => m.runControlPlane(args.slice(1)))
  : args[0] === 'ratelimit-service'
    ? import('./ratelimit_service/main.js').then((m) => m.runRateLimitService(args.slice(1)))
    : main(args);
run.then((code) => {
  if (code >= 0) process.exit(code);
}, (e: unknown) => {
  process.stderr.write(`legate: fatal: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(1);
});
