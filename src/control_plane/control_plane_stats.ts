/**
 * The control plane's own metrics, rendered in the Prometheus text format at
 * the status server's `/stats/prometheus`:
 *
 *   legate_cp_connected_clients            gauge    open xDS streams
 *   legate_cp_streams_total{protocol}      counter  streams opened (sotw / delta)
 *   legate_cp_requests_total{type}         counter  discovery requests received
 *   legate_cp_pushes_total{type}           counter  discovery responses sent
 *   legate_cp_acks_total{type}             counter  responses ACKed
 *   legate_cp_nacks_total{type}            counter  responses NACKed (request with error_detail)
 *   legate_cp_snapshot_version             gauge    generation of the last accepted snapshot set
 *   legate_cp_snapshot_updates_total       counter  snapshot sets accepted
 *   legate_cp_snapshot_rejected_total      counter  snapshot sets refused (malformed or inconsistent)
 *   legate_cp_snapshot_resources{type}     gauge    resources in the default snapshot
 *
 * `type` is the short name (LDS, RDS, CDS, EDS, SDS) or the type URL of anything else.
 */

type Labelled = Map<string, number>;

function bump(m: Labelled, label: string, by = 1): void {
  m.set(label, (m.get(label) ?? 0) + by);
}

export class ControlPlaneStats {
  connectedClients = 0;
  readonly streamsTotal: Labelled = new Map();
  readonly requestsTotal: Labelled = new Map();
  readonly pushesTotal: Labelled = new Map();
  readonly acksTotal: Labelled = new Map();
  readonly nacksTotal: Labelled = new Map();
  snapshotVersion = 0;
  snapshotUpdates = 0;
  snapshotRejected = 0;
  readonly snapshotResources: Labelled = new Map();

  streamOpened(protocol: string): void {
    bump(this.streamsTotal, protocol);
    this.connectedClients++;
  }

  streamClosed(): void {
    this.connectedClients--;
  }

  request(type: string): void { bump(this.requestsTotal, type); }
  push(type: string): void { bump(this.pushesTotal, type); }
  ack(type: string): void { bump(this.acksTotal, type); }
  nack(type: string): void { bump(this.nacksTotal, type); }

  /** The Prometheus text exposition (format 0.0.4). */
  prometheus(): string {
    const out: string[] = [];
    const gauge = (name: string, help: string, value: number): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`);
    };
    const counter = (name: string, help: string, value: number): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`, `${name} ${value}`);
    };
    const labelled = (name: string, kind: 'counter' | 'gauge', label: string, help: string, m: Labelled): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${kind}`);
      for (const [k, v] of [...m].sort(([a], [b]) => a.localeCompare(b))) {
        out.push(`${name}{${label}="${k.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"} ${v}`);
      }
    };
    gauge('legate_cp_connected_clients', 'Open xDS streams.', this.connectedClients);
    labelled('legate_cp_streams_total', 'counter', 'protocol', 'xDS streams opened.', this.streamsTotal);
    labelled('legate_cp_requests_total', 'counter', 'type', 'Discovery requests received.', this.requestsTotal);
    labelled('legate_cp_pushes_total', 'counter', 'type', 'Discovery responses sent.', this.pushesTotal);
    labelled('legate_cp_acks_total', 'counter', 'type', 'Discovery responses acknowledged.', this.acksTotal);
    labelled('legate_cp_nacks_total', 'counter', 'type', 'Discovery responses rejected by clients.', this.nacksTotal);
    gauge('legate_cp_snapshot_version', 'Generation of the last accepted snapshot set.', this.snapshotVersion);
    counter('legate_cp_snapshot_updates_total', 'Snapshot sets accepted.', this.snapshotUpdates);
    counter('legate_cp_snapshot_rejected_total', 'Snapshot sets refused (malformed or inconsistent).', this.snapshotRejected);
    labelled('legate_cp_snapshot_resources', 'gauge', 'type', 'Resources in the default snapshot.', this.snapshotResources);
    return `${out.join('\n')}\n`;
  }
}
