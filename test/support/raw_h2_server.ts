/**
 * A hand-rolled HTTP/2 server that writes frames byte by byte, for what a
 * well-behaved node:http2 server will not do: malformed responses, ignored
 * PINGs. It sends an empty SETTINGS and ACKs the client's, then calls
 * `onRequest` for each client HEADERS frame; everything else is read and dropped.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export const FrameType = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7 } as const;

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId, 5);
  return Buffer.concat([h, payload]);
}

/** An HPACK "literal header field without indexing, new name" (names and values < 128 bytes). */
export function literalHeader(name: string, value: string): Buffer {
  const n = Buffer.from(name), v = Buffer.from(value);
  return Buffer.concat([Buffer.from([0x00, n.length]), n, Buffer.from([v.length]), v]);
}

export interface RawH2Server {
  readonly port: number;
  /** Client frames seen, by type. */
  readonly seen: Map<number, number>;
  close(): Promise<void>;
}

export async function startRawH2Server(onRequest: (socket: net.Socket, streamId: number) => void): Promise<RawH2Server> {
  const sockets = new Set<net.Socket>();
  const seen = new Map<number, number>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let buf = Buffer.alloc(0);
    let prefaceSeen = false;
    s.write(frame(FrameType.SETTINGS, 0, 0));
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!prefaceSeen) {
        if (buf.length < 24) return;
        buf = buf.subarray(24);
        prefaceSeen = true;
      }
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) return;
        const type = buf[3]!, flags = buf[4]!, id = buf.readUInt32BE(5) & 0x7fffffff;
        buf = buf.subarray(9 + len);
        seen.set(type, (seen.get(type) ?? 0) + 1);
        if (type === FrameType.SETTINGS && (flags & 1) === 0) s.write(frame(FrameType.SETTINGS, 1, 0));
        else if (type === FrameType.HEADERS) onRequest(s, id);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}
