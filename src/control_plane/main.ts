/**
 * `legate control-plane`: the command line of Legate's xDS control plane.
 *
 *   legate control-plane --dir <resources dir> | --services <file> [--port 18000] [--admin-port 18001]
 *                        [--address 127.0.0.1] [--admin-address <addr>] [--id <name>]
 *                        [-l <level>]
 *
 * Prints `xDS listening on <addr>:<port>` and `admin listening on <addr>:<port>`
 * once bound (port 0 picks a free port), then serves until SIGTERM / SIGINT.
 */
import { getLogger } from '../common/logger.js';
import { ControlPlane, type ControlPlaneOptions } from './control_plane.js';
import { UsageError, applyLogLevelFlag, cliFlags, parsePortFlag } from '../common/cli_args.js';

export const CONTROL_PLANE_HELP = `Usage: legate control-plane --dir <dir> | --services <file> [options]

Serves Envoy resources over xDS (ADS and per-type services, state of the
world and delta), and watches their sources for changes.

  --dir <dir>              resource files (YAML/JSON, "@type" on each resource);
                           <dir>/<node id or cluster>/ holds per-node overrides
  --services <file>        a services file (services, endpoints, routes with
                           matches, splits, retries, timeouts, faults), served
                           as Listener, RouteConfiguration, Cluster and
                           ClusterLoadAssignment resources
  --port <port>            xDS gRPC port (default 18000; 0 = any free port)
  --address <addr>         address to bind (default 127.0.0.1)
  --admin-port <port>      status page port (default 18001; 0 = any; -1 = none)
  --admin-address <addr>   status page address (default: --address)
  --id <name>              control_plane.identifier in responses
  -l, --log-level <level>  trace, debug, info (default), warning, error, critical, off
  -h, --help               this text
`;



interface CliOptions extends ControlPlaneOptions {
  readonly help: boolean;
}

function parseArgs(argv: string[]): CliOptions {
  const o: { -readonly [K in keyof CliOptions]: CliOptions[K] } = { help: false, port: 18000, adminPort: 18001 };
  for (const { flag, arg, value } of cliFlags(argv)) {
    switch (flag) {
      case '-h':
      case '--help':
        o.help = true;
        break;
      case '--dir':
        o.dir = value();
        break;
      case '--services':
        o.servicesFile = value();
        break;
      case '--port':
        o.port = parsePortFlag(flag, value());
        break;
      case '--admin-port': {
        const p = parsePortFlag(flag, value(), true);
        o.adminPort = p < 0 ? undefined : p;
        break;
      }
      case '--address':
        o.address = value();
        break;
      case '--admin-address':
        o.adminAddress = value();
        break;
      case '--id':
        o.controlPlaneId = value();
        break;
      case '-l':
      case '--log-level':
        applyLogLevelFlag(flag, value());
        break;
      default:
        throw new UsageError(`unknown argument "${arg}" (see --help)`);
    }
  }
  if (!o.help && o.dir === undefined && o.servicesFile === undefined) {
    throw new UsageError('nothing to serve: give --dir <resources dir> and/or --services <file> (see --help)');
  }
  return o;
}

/** Runs the control plane; resolves to an exit code, or -1 while it keeps serving. */
export async function runControlPlane(argv: string[]): Promise<number> {
  let options: CliOptions;
  try {
    options = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`legate control-plane: ${e.message}\n`);
    return 1;
  }
  if (options.help) {
    process.stdout.write(CONTROL_PLANE_HELP);
    return 0;
  }
  const cp = new ControlPlane(options);
  try {
    await cp.start();
  } catch (e) {
    getLogger('control_plane').critical(`cannot start the control plane: ${(e as Error).message}`);
    await cp.stop().catch(() => undefined);
    return 1;
  }
  const address = options.address ?? '127.0.0.1';
  const host = address.includes(':') ? `[${address}]` : address;
  process.stdout.write(`xDS listening on ${host}:${cp.xdsPort}\n`);
  if (cp.adminPort !== undefined) {
    const a = options.adminAddress ?? address;
    process.stdout.write(`admin listening on ${a.includes(':') ? `[${a}]` : a}:${cp.adminPort}\n`);
  }
  const shutdown = (signal: string): void => {
    getLogger('control_plane').info(`caught ${signal}, shutting down`);
    cp.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  return -1;
}
