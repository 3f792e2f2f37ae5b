/**
 * ConnectionImpl: Envoy's Network::Connection over a Node socket. It feeds
 * read bytes through the connection's read-filter chain, counts read-disable
 * calls, and turns the socket's write buffer into watermark callbacks.
 */
import type { Socket } from 'node:net';
import {
  ConnectionCloseType,
  ConnectionEvent,
  type Connection,
  type ConnectionCallbacks,
  type SslConnectionInfo,
} from '../envoy/network/connection.js';
import { FilterStatus, type ReadFilter, type ReadFilterCallbacks } from '../envoy/network/filter.js';
import { addressToString } from './address.js';

let nextConnectionId = 0;

export class ConnectionImpl implements Connection {
  readonly id = nextConnectionId++;
  readonly remoteAddress: string;
  readonly localAddress: string;
  requestedServerName = '';
  ssl: SslConnectionInfo | null = null;
  closed = false;
  private readDisableCount = 0;
  private callbacks: ConnectionCallbacks[] = [];
  private readFilters: ReadFilter[] = [];
  private aboveHighWatermark = false;
  /** Index of the first read filter that has not yet seen onNewConnection continue. */
  private initializedUpTo = 0;
  private localCloseSeen = false;
  private dataListener: ((d: Buffer) => void) | null = null;
  private endListener: (() => void) | null = null;

  constructor(readonly socket: Socket, private readonly limit: number) {
    this.remoteAddress = addressToString(socket.remoteAddress, socket.remotePort);
    this.localAddress = addressToString(socket.localAddress, socket.localPort);
    socket.on('close', () => this.onSocketClose());
    socket.on('error', () => { /* 'close' follows; errors are reported as RemoteClose */ });
    if (limit > 0) socket.on('drain', () => this.onDrain());
  }

  get nextProtocol(): string { return this.ssl?.alpn ?? ''; }

  get bytesReceived(): number { return this.socket.bytesRead; }
  get bytesSent(): number { return this.socket.bytesWritten; }

  addReadFilter(filter: ReadFilter): void {
    const cbs: ReadFilterCallbacks = {
      connection: this,
      continueReading: () => this.continueReading(this.readFilters.indexOf(filter) + 1),
    };
    filter.initializeReadFilterCallbacks(cbs);
    this.readFilters.push(filter);
  }

  /**
   * Runs onNewConnection on the filters (a StopIteration holds the later
   * filters' onNewConnection until continueReading()), then starts reading.
   * Data only reaches filters whose onNewConnection has run.
   */
  initializeReadFilters(): boolean {
    if (this.readFilters.length === 0) return false;
    this.continueReading(0);
    if (this.readFilters.length === 1) {
      // The common case (one terminal filter): hand data straight to it.
      const f = this.readFilters[0]!;
      this.dataListener = (d: Buffer) => { f.onData(d, false); };
    } else {
      this.dataListener = (d: Buffer) => this.onRead(d, false);
    }
    this.endListener = () => this.onRead(Buffer.alloc(0), true);
    this.socket.on('data', this.dataListener);
    this.socket.on('end', this.endListener);
    return true;
  }

  /**
   * Hands the socket's reads to a codec that reads it itself (node:http2):
   * the read filters get no more bytes. Close events, watermarks and byte
   * counts still come from the socket.
   */
  detachSocket(): Socket {
    if (this.dataListener !== null) this.socket.off('data', this.dataListener);
    if (this.endListener !== null) this.socket.off('end', this.endListener);
    this.dataListener = null;
    this.endListener = null;
    return this.socket;
  }

  private continueReading(from: number): void {
    for (let i = from; i < this.readFilters.length; i++) {
      this.initializedUpTo = i + 1;
      if (this.readFilters[i]!.onNewConnection() === FilterStatus.StopIteration) return;
    }
  }

  private onRead(data: Buffer, endStream: boolean): void {
    for (let i = 0; i < this.initializedUpTo; i++) {
      if (this.readFilters[i]!.onData(data, endStream) === FilterStatus.StopIteration) return;
    }
  }

  addConnectionCallbacks(cb: ConnectionCallbacks): void { this.callbacks.push(cb); }

  write(data: Buffer | string, endStream: boolean): void {
    if (this.closed) return;
    if (endStream) this.socket.end(data);
    else this.socket.write(data);
    if (this.limit > 0 && !this.aboveHighWatermark && this.socket.writableLength > this.limit) {
      this.aboveHighWatermark = true;
      for (const cb of this.callbacks) cb.onAboveWriteBufferHighWatermark();
    }
  }

  private onDrain(): void {
    if (this.aboveHighWatermark && this.socket.writableLength <= this.limit / 2) {
      this.aboveHighWatermark = false;
      for (const cb of this.callbacks) cb.onBelowWriteBufferLowWatermark();
    }
  }

  close(type: ConnectionCloseType): void {
    if (this.closed) return;
    this.closed = true;
    this.localCloseSeen = true;
    if (type === ConnectionCloseType.FlushWrite) this.socket.end();
    else this.socket.destroy();
    // Half-closed peers may never close their side: bound the wait.
    if (type === ConnectionCloseType.FlushWrite) {
      const t = setTimeout(() => this.socket.destroy(), 1000);
      t.unref();
    }
  }

  readDisable(disable: boolean): void {
    if (disable) {
      if (this.readDisableCount++ === 0) this.socket.pause();
    } else if (this.readDisableCount > 0 && --this.readDisableCount === 0) {
      this.socket.resume();
    }
  }

  bufferLimit(): number { return this.limit; }

  /** Resumes a socket left paused (by listener filters) unless a filter read-disabled the connection. */
  resumeReadingIfEnabled(): void {
    if (this.readDisableCount === 0 && this.socket.isPaused()) this.socket.resume();
  }

  private onSocketClose(): void {
    const event = this.localCloseSeen ? ConnectionEvent.LocalClose : ConnectionEvent.RemoteClose;
    this.closed = true;
    for (const cb of this.callbacks) cb.onEvent(event);
  }
}
