/**
 * HTTP health checks, after Envoy's HttpHealthCheckerImpl
 * (source/extensions/health_checkers/http/health_checker_impl.cc).
 *
 * Each check is `GET <path>` (or `method`) with `host: <host or the cluster
 * name>`, `user-agent: Envoy/HC` and the configured header changes, over
 * HTTP/1.1 or HTTP/2 (`codec_client_type`), on a connection kept between
 * checks unless `reuse_connection: false`. The response passes when its status
 * is in `expected_statuses` (default 200 only) and, with `receive`, its body
 * (first `response_buffer_size` bytes) contains the expected payloads. A
 * status outside the expected ones fails the host at once (retriable_statuses
 * count toward unhealthy_threshold instead); with
 * `x-envoy-immediate-health-check-fail` on it the host is also excluded from
 * load balancing until it passes again. `x-envoy-degraded` marks a passing
 * host degraded. A connect failure or reset is a network failure.
 */
import http from 'node:http';
import type http2 from 'node:http2';
import type { Host } from '../envoy/upstream/host.js';
import { HealthFlag } from '../envoy/upstream/host.js';
import { ActiveHealthCheckSession, HealthCheckerImplBase, type HealthCheckerContext } from './health_checker_base_impl.js';
import { HeaderAppendAction, type HeaderToAdd, type HealthCheckSettings, type HttpCheckSettings } from './health_check_config.js';
import { connectHttp2, connectToHost, schemeOf } from './health_check_connection.js';
import { payloadMatches } from './payload_matcher.js';

const IMMEDIATE_HC_FAIL = 'x-envoy-immediate-health-check-fail';
const DEGRADED = 'x-envoy-degraded';
const HEALTHCHECKED_CLUSTER = 'x-envoy-upstream-healthchecked-cluster';
export const HC_USER_AGENT = 'Envoy/HC';

type Result = 'succeeded' | 'degraded' | 'failed' | 'retriable';

export class HttpHealthCheckerImpl extends HealthCheckerImplBase {
  readonly checkerType = 'HTTP' as const;
  readonly http: HttpCheckSettings;

  constructor(settings: HealthCheckSettings, context: HealthCheckerContext) {
    super(settings, context);
    this.http = settings.checker as HttpCheckSettings;
  }

  protected makeSession(host: Host): ActiveHealthCheckSession {
    return new HttpActiveHealthCheckSession(this, host);
  }

  /** The request headers of one check (lower-case names, several values per name possible). */
  requestHeaders(): Map<string, string[]> {
    const h = new Map<string, string[]>();
    h.set('host', [this.http.host !== '' ? this.http.host : this.context.clusterName]);
    h.set('user-agent', [HC_USER_AGENT]);
    applyHeadersToAdd(h, this.http.headersToAdd);
    for (const name of this.http.headersToRemove) h.delete(name);
    if (this.http.send !== null) h.set('content-length', [String(this.http.send.length)]);
    return h;
  }

  /** Envoy's healthCheckResult(). */
  result(status: number, headers: Record<string, string | string[] | undefined>, body: Buffer, host: Host): Result {
    const immediateFail = headers[IMMEDIATE_HC_FAIL] !== undefined;
    if (this.http.receive.length > 0 && !payloadMatches(this.http.receive, body)) {
      if (immediateFail) host.healthFlags |= HealthFlag.ExcludedViaImmediateHcFail;
      return 'failed';
    }
    if (!inRanges(status, this.http.expectedStatuses)) {
      if (immediateFail) host.healthFlags |= HealthFlag.ExcludedViaImmediateHcFail;
      return inRanges(status, this.http.retriableStatuses) ? 'retriable' : 'failed';
    }
    const degraded = headers[DEGRADED] !== undefined;
    if (this.http.serviceNameMatcher !== null) {
      this.stats.verify_cluster.inc();
      const v = headers[HEALTHCHECKED_CLUSTER];
      const cluster = Array.isArray(v) ? v[0] ?? '' : v ?? '';
      if (!this.http.serviceNameMatcher.match(cluster)) return 'failed';
    }
    return degraded ? 'degraded' : 'succeeded';
  }
}

function inRanges(status: number, ranges: ReadonlyArray<readonly [number, number]>): boolean {
  for (const [start, end] of ranges) if (status >= start && status < end) return true;
  return false;
}

/** request_headers_to_add semantics (HeaderValueOption.append_action). */
export function applyHeadersToAdd(h: Map<string, string[]>, adds: ReadonlyArray<HeaderToAdd>): void {
  for (const a of adds) {
    if (a.value === '' && !a.keepEmptyValue) continue;
    const current = h.get(a.key);
    switch (a.action) {
      case HeaderAppendAction.APPEND_IF_EXISTS_OR_ADD:
        if (current === undefined) h.set(a.key, [a.value]);
        else current.push(a.value);
        break;
      case HeaderAppendAction.ADD_IF_ABSENT:
        if (current === undefined) h.set(a.key, [a.value]);
        break;
      case HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD:
        h.set(a.key, [a.value]);
        break;
      case HeaderAppendAction.OVERWRITE_IF_EXISTS:
        if (current !== undefined) h.set(a.key, [a.value]);
        break;
    }
  }
}

class HttpActiveHealthCheckSession extends ActiveHealthCheckSession {
  private agent: http.Agent | null = null;
  private h2: http2.ClientHttp2Session | null = null;
  /** False after a GOAWAY: the session closes once its stream is done. */
  private h2Reusable = true;
  private request: http.ClientRequest | http2.ClientHttp2Stream | null = null;
  /** Identifies the check in flight; late events of an abandoned check are ignored. */
  private checkId = 0;

  constructor(private readonly checker: HttpHealthCheckerImpl, host: Host) {
    super(checker, host);
  }

  protected onInterval(): void {
    const id = ++this.checkId;
    const headers = this.checker.requestHeaders();
    if (this.checker.http.protocol === 'http2') this.sendHttp2(id, headers);
    else this.sendHttp1(id, headers);
  }

  protected onTimeout(): void {
    this.checkId++;
    this.closeConnection();
  }

  protected onDestroy(): void {
    this.checkId++;
    this.closeConnection();
  }

  private sendHttp1(id: number, headers: Map<string, string[]>): void {
    const ts = this.parent.context.transportSocket;
    if (this.agent === null) {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      // The connection (tls or not) comes from the cluster's transport socket.
      (agent as unknown as { createConnection: () => unknown }).createConnection = () => connectToHost(this.host, ts);
      this.agent = agent;
    }
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of headers) out[k] = v.length === 1 ? v[0]! : v;
    const req = http.request({
      host: this.host.address,
      port: this.host.port,
      method: this.checker.http.method,
      path: this.checker.http.path,
      headers: out,
      agent: this.agent,
      setHost: false,
    });
    this.request = req;
    req.on('error', () => this.onNetworkFailure(id));
    req.on('response', (res) => {
      const body = new BodyCollector(this.checker.http);
      res.on('data', (c: Buffer) => body.add(c));
      res.on('error', () => this.onNetworkFailure(id));
      res.on('end', () => this.onResponse(id, res.statusCode ?? 0, res.headers, body.buffer()));
    });
    req.end(this.checker.http.send ?? undefined);
  }

  private sendHttp2(id: number, headers: Map<string, string[]>): void {
    const ts = this.parent.context.transportSocket;
    if (this.h2 === null || this.h2.closed || this.h2.destroyed || !this.h2Reusable) {
      this.h2?.destroy();
      const session = connectHttp2(this.host, ts);
      session.on('goaway', () => {
        if (this.h2 === session) this.h2Reusable = false;
      });
      this.h2 = session;
      this.h2Reusable = true;
    }
    const out: http2.OutgoingHttpHeaders = {
      ':method': this.checker.http.method,
      ':path': this.checker.http.path,
      ':scheme': schemeOf(ts),
      ':authority': headers.get('host')![0]!,
    };
    for (const [k, v] of headers) if (k !== 'host') out[k] = v.length === 1 ? v[0]! : v;
    const send = this.checker.http.send;
    const stream = this.h2.request(out, { endStream: send === null });
    this.request = stream;
    let status = 0;
    let responseHeaders: http2.IncomingHttpHeaders = {};
    let ended = false;
    const body = new BodyCollector(this.checker.http);
    stream.on('response', (h) => {
      status = Number(h[':status']);
      responseHeaders = h;
    });
    stream.on('data', (c: Buffer) => body.add(c));
    stream.on('end', () => {
      ended = true;
      this.onResponse(id, status, responseHeaders, body.buffer());
    });
    stream.on('error', () => this.onNetworkFailure(id));
    stream.on('close', () => {
      if (!ended) this.onNetworkFailure(id);
    });
    if (send !== null) stream.end(send);
  }

  private onResponse(id: number, status: number, headers: Record<string, string | string[] | undefined>, body: Buffer): void {
    if (id !== this.checkId || this.destroyed) return;
    this.checkId++; // done: nothing more from this check counts
    this.request = null;
    switch (this.checker.result(status, headers, body, this.host)) {
      case 'succeeded': this.handleSuccess(false); break;
      case 'degraded': this.handleSuccess(true); break;
      case 'failed': this.handleFailure('ACTIVE', false); break;
      case 'retriable': this.handleFailure('ACTIVE', true); break;
    }
    if (this.destroyed) return;
    const h1Close = this.checker.http.protocol === 'http1' && String(headers['connection'] ?? '').toLowerCase() === 'close';
    if (!this.parent.settings.reuseConnection || !this.h2Reusable || h1Close) this.closeConnection();
  }

  private onNetworkFailure(id: number): void {
    if (id !== this.checkId || this.destroyed) return;
    this.checkId++;
    this.closeConnection();
    this.handleFailure('NETWORK');
  }

  private closeConnection(): void {
    const req = this.request;
    this.request = null;
    if (req !== null && !req.destroyed) req.destroy();
    this.agent?.destroy();
    this.agent = null;
    this.h2?.destroy();
    this.h2 = null;
  }
}

/** Keeps the first `response_buffer_size` body bytes, only when `receive` needs them. */
class BodyCollector {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  constructor(private readonly http: HttpCheckSettings) {}
  add(c: Buffer): void {
    if (this.http.receive.length === 0) return;
    const limit = this.http.responseBufferSize;
    if (limit !== 0 && this.kept >= limit) return;
    const take = limit === 0 ? c : c.subarray(0, limit - this.kept);
    this.chunks.push(take);
    this.kept += take.length;
  }
  buffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}
