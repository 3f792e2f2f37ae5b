/**
 * A small authoritative DNS server for tests: real UDP on 127.0.0.1, an
 * OS-assigned port, answers A and AAAA from a mutable table with TTLs.
 *
 *   const dns = await TestDnsServer.start();
 *   dns.setRecords('backend.test', { A: ['127.0.0.1', '127.0.0.2'], ttl: 30 });
 *   // point a cluster at it: dns_resolution_config.resolvers = [dns.address()]
 *   dns.fail('backend.test', 'SERVFAIL');  // until dns.fail('backend.test', null)
 *   await dns.waitForQueries('backend.test', 'A', 3);
 *   await dns.close();
 *
 * Semantics follow a real authoritative server:
 * - a name in the table with no records of the asked type answers NOERROR with
 *   no answers (NODATA);
 * - a name not in the table answers NXDOMAIN;
 * - a failure mode set with `fail()` wins over the table: SERVFAIL, NXDOMAIN
 *   or REFUSED.
 * Names are matched case-insensitively, without the trailing dot.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { EventEmitter, once } from 'node:events';
import * as dnsPacket from 'dns-packet';

export type DnsFailure = 'SERVFAIL' | 'NXDOMAIN' | 'REFUSED';

export interface DnsRecordSet {
  /** IPv4 addresses, answered in this order. */
  A?: string[];
  /** IPv6 addresses, answered in this order. */
  AAAA?: string[];
  /** TTL in seconds for every record of the name (default 300). */
  ttl?: number;
}

const RCODE: Record<DnsFailure | 'NOERROR', number> = {
  NOERROR: 0,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  REFUSED: 5,
};

function norm(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

export class TestDnsServer extends EventEmitter {
  private readonly records = new Map<string, Required<DnsRecordSet>>();
  private readonly failures = new Map<string, DnsFailure>();
  private readonly counts = new Map<string, number>();
  private closed = false;

  private constructor(private readonly socket: Socket) {
    super();
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
  }

  /** Starts a server on 127.0.0.1 with an OS-assigned port. */
  static async start(): Promise<TestDnsServer> {
    const socket = createSocket('udp4');
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    return new TestDnsServer(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** `127.0.0.1:PORT`, the form `Resolver.setServers()` takes. */
  address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Replaces every record of `name`. */
  setRecords(name: string, set: DnsRecordSet): void {
    this.records.set(norm(name), { A: set.A ?? [], AAAA: set.AAAA ?? [], ttl: set.ttl ?? 300 });
  }

  /** Removes `name` from the table (it then answers NXDOMAIN). */
  deleteRecords(name: string): void {
    this.records.delete(norm(name));
  }

  /** Makes every query for `name` fail with `rcode`; `null` restores normal answers. */
  fail(name: string, rcode: DnsFailure | null): void {
    if (rcode === null) this.failures.delete(norm(name));
    else this.failures.set(norm(name), rcode);
  }

  /** Queries answered so far for `name` and `type` (A or AAAA). */
  queryCount(name: string, type: 'A' | 'AAAA'): number {
    return this.counts.get(`${norm(name)}/${type}`) ?? 0;
  }

  /** Every query answered so far, all names and types. */
  totalQueries(): number {
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }

  /** Resolves once `queryCount(name, type) >= n`. */
  async waitForQueries(name: string, type: 'A' | 'AAAA', n: number): Promise<void> {
    while (this.queryCount(name, type) < n) {
      await once(this, 'answered');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    let query: dnsPacket.DecodedPacket;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return; // not DNS; a real server would drop it too
    }
    const question = query.questions?.[0];
    if (question === undefined) return;
    const name = norm(question.name);
    const key = `${name}/${question.type}`;

    const answers: dnsPacket.Answer[] = [];
    let rcode = RCODE.NOERROR;
    const failure = this.failures.get(name);
    const set = this.records.get(name);
    if (failure !== undefined) {
      rcode = RCODE[failure];
    } else if (set === undefined) {
      rcode = RCODE.NXDOMAIN;
    } else if (question.type === 'A' || question.type === 'AAAA') {
      for (const ip of set[question.type]) {
        answers.push({ type: question.type, name: question.name, class: 'IN', ttl: set.ttl, data: ip });
      }
    }
    const response = dnsPacket.encode({
      type: 'response',
      id: query.id,
      // QR is added by the encoder; RD echoed, RA set, AA set, rcode in the low bits.
      flags: (query.flag_rd ? dnsPacket.RECURSION_DESIRED : 0) | dnsPacket.RECURSION_AVAILABLE |
        dnsPacket.AUTHORITATIVE_ANSWER | rcode,
      questions: [question],
      answers,
    });
    if (this.closed) return;
    this.socket.send(response, rinfo.port, rinfo.address, () => {
      // Counted once the answer is on the wire, so a waiter sees a complete exchange.
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
      this.emit('answered', name, question.type);
    });
  }
}
