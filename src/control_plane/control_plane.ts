/**
 * The control plane assembled: snapshot cache and publisher, the sources
 * (a resource directory, and/or a services file), the xDS gRPC server and
 * the status page. `legate control-plane` (main.ts) runs one; tests start
 * one in-process when they want to look inside.
 */
import { getLogger } from '../common/logger.js';
import { ControlPlaneStats } from './control_plane_stats.js';
import { DirectorySource, type DirectorySourceOptions } from './directory_source.js';
import { ServicesSource } from './services_source.js';
import { SnapshotCache } from './snapshot_cache.js';
import { SnapshotPublisher } from './snapshot_publisher.js';
import { StatusServer } from './status_server.js';
import { XdsServer } from './xds_server.js';

export interface ControlPlaneOptions {
  /** A directory of Envoy-format resource files. */
  readonly dir?: string;
  /** A services file (services_file.ts), translated into resources. */
  readonly servicesFile?: string;
  /** File watching of both sources. */
  readonly directoryOptions?: DirectorySourceOptions;
  readonly address?: string;
  /** xDS gRPC port (0: any free port). */
  readonly port?: number;
  /** Status page port (0: any free port; undefined: no status page). */
  readonly adminPort?: number;
  readonly adminAddress?: string;
  readonly controlPlaneId?: string;
}

export class ControlPlane {
  readonly stats = new ControlPlaneStats();
  readonly cache = new SnapshotCache(this.stats);
  readonly publisher = new SnapshotPublisher(this.cache, this.stats);
  readonly xds: XdsServer;
  readonly directory: DirectorySource | undefined;
  readonly services: ServicesSource | undefined;
  private status: StatusServer | undefined;
  xdsPort = 0;
  adminPort: number | undefined;
  private readonly log = getLogger('control_plane');

  constructor(private readonly options: ControlPlaneOptions) {
    this.xds = new XdsServer(this.cache, this.stats, options.controlPlaneId !== undefined ? { controlPlaneId: options.controlPlaneId } : {});
    if (options.dir !== undefined) this.directory = new DirectorySource(options.dir, this.publisher, options.directoryOptions);
    if (options.servicesFile !== undefined) this.services = new ServicesSource(options.servicesFile, this.publisher, options.directoryOptions);
  }

  /** Loads the sources, then binds the xDS server and the status page. */
  async start(): Promise<void> {
    this.directory?.start();
    this.services?.start();
    const address = this.options.address ?? '127.0.0.1';
    this.xdsPort = await this.xds.listen(address, this.options.port ?? 18000);
    if (this.options.adminPort !== undefined) {
      this.status = new StatusServer({ cache: this.cache, stats: this.stats, clients: () => this.xds.clients(), refusals: () => this.publisher.refusals });
      this.adminPort = await this.status.listen(this.options.adminAddress ?? address, this.options.adminPort);
    }
    this.log.info(`control plane up: xDS on ${address}:${this.xdsPort}${this.adminPort !== undefined ? `, status page on port ${this.adminPort}` : ''}`);
  }

  async stop(): Promise<void> {
    this.directory?.stop();
    this.services?.stop();
    this.xds.close();
    await this.status?.close();
  }
}
