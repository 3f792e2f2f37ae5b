/**
 * TCP health checks, after Envoy's TcpHealthCheckerImpl
 * (source/extensions/health_checkers/tcp/health_checker_impl.cc).
 *
 * Connect, write `send` (if any), then pass as soon as everything received
 * since the check began contains the `receive` payloads in order. Without
 * `receive`, connecting is enough (and the connection is closed at once).
 * Data that does not match yet is kept and
 * the check waits for more: a wrong answer fails by `timeout` (a network
 * timeout, counted toward unhealthy_threshold). A connection the upstream
 * closes or refuses is a network failure. The connection stays open between
 * checks unless `reuse_connection: false`.
 */
import type net from 'node:net';
import type { Host } from '../envoy/upstream/host.js';
import { ActiveHealthCheckSession, HealthCheckerImplBase, type HealthCheckerContext } from './health_checker_base_impl.js';
import type { HealthCheckSettings, TcpCheckSettings } from './health_check_config.js';
import { connectToHost, readyEventOf } from './health_check_connection.js';
import { payloadMatches } from './payload_matcher.js';

export class TcpHealthCheckerImpl extends HealthCheckerImplBase {
  readonly checkerType = 'TCP' as const;
  readonly tcp: TcpCheckSettings;

  constructor(settings: HealthCheckSettings, context: HealthCheckerContext) {
    super(settings, context);
    this.tcp = settings.checker as TcpCheckSettings;
  }

  protected makeSession(host: Host): ActiveHealthCheckSession {
    return new TcpActiveHealthCheckSession(this, host);
  }
}

class TcpActiveHealthCheckSession extends ActiveHealthCheckSession {
  private socket: net.Socket | null = null;
  private connected = false;
  private received: Buffer = Buffer.alloc(0);
  /** A check is waiting for its answer. */
  private inFlight = false;

  constructor(private readonly checker: TcpHealthCheckerImpl, host: Host) {
    super(checker, host);
  }

  protected onInterval(): void {
    this.inFlight = true;
    this.received = Buffer.alloc(0);
    if (this.socket === null) {
      const ts = this.parent.context.transportSocket;
      const socket = connectToHost(this.host, ts);
      this.socket = socket;
      this.connected = false;
      socket.once(readyEventOf(ts), () => {
        if (this.socket !== socket) return;
        this.connected = true;
        this.onConnected();
      });
      socket.on('data', (d: Buffer) => {
        if (this.socket === socket) this.onData(d);
      });
      socket.on('error', () => {});
      socket.on('close', () => {
        if (this.socket !== socket) return; // closed by us
        this.socket = null;
        if (this.inFlight) {
          this.inFlight = false;
          this.handleFailure('NETWORK');
        }
      });
      return;
    }
    if (this.connected) this.writeSend();
  }

  protected onTimeout(): void {
    this.inFlight = false;
    this.close();
  }

  protected onDestroy(): void {
    this.inFlight = false;
    this.close();
  }

  private onConnected(): void {
    if (!this.inFlight) return;
    this.writeSend();
    if (this.checker.tcp.receive.length === 0) this.succeed();
  }

  private writeSend(): void {
    const send = this.checker.tcp.send;
    if (send !== null) this.socket?.write(send);
  }

  private onData(d: Buffer): void {
    if (!this.inFlight) return; // between checks: nothing is expected
    this.received = Buffer.concat([this.received, d]);
    if (this.checker.tcp.receive.length > 0 && payloadMatches(this.checker.tcp.receive, this.received)) this.succeed();
  }

  private succeed(): void {
    this.inFlight = false;
    this.received = Buffer.alloc(0);
    // A connect-only check closes at once (as Envoy); otherwise reuse_connection decides.
    if (!this.parent.settings.reuseConnection || this.checker.tcp.receive.length === 0) this.close();
    this.handleSuccess(false);
  }

  private close(): void {
    const s = this.socket;
    this.socket = null;
    this.connected = false;
    s?.destroy();
  }
}
