/**
 * Raw HTTP/2 frames for tests that must misbehave on purpose (floods, rapid
 * reset, protocol errors), which well-behaved clients like node:http2 refuse
 * to produce. Header blocks use HPACK literals without Huffman coding.
 */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const FrameType = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8 } as const;
export const Flags = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

/** HPACK integer with an N-bit prefix (RFC 7541 §5.1). */
function hpackInt(value: number, prefixBits: number, firstByteFlags: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByteFlags | value]);
  const out = [firstByteFlags | max];
  value -= max;
  while (value >= 128) { out.push((value % 128) + 128); value = Math.floor(value / 128); }
  out.push(value);
  return Buffer.from(out);
}

/** A header block of literal fields without indexing, new names (RFC 7541 §6.2.2). */
export function headerBlock(headers: ReadonlyArray<readonly [string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of headers) {
    const n = Buffer.from(name, 'latin1');
    const v = Buffer.from(value, 'latin1');
    parts.push(Buffer.from([0x00]), hpackInt(n.length, 7, 0), n, hpackInt(v.length, 7, 0), v);
  }
  return Buffer.concat(parts);
}

export function headersFrame(streamId: number, headers: ReadonlyArray<readonly [string, string]>, endStream: boolean): Buffer {
  return frame(FrameType.HEADERS, Flags.END_HEADERS | (endStream ? Flags.END_STREAM : 0), streamId, headerBlock(headers));
}

export function settingsFrame(settings: ReadonlyArray<readonly [number, number]> = []): Buffer {
  const p = Buffer.alloc(settings.length * 6);
  settings.forEach(([id, v], i) => { p.writeUInt16BE(id, i * 6); p.writeUInt32BE(v, i * 6 + 2); });
  return frame(FrameType.SETTINGS, 0, 0, p);
}

export function settingsAck(): Buffer {
  return frame(FrameType.SETTINGS, Flags.ACK, 0);
}

export function pingFrame(data = 0): Buffer {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(data >>> 0, 4);
  return frame(FrameType.PING, 0, 0, p);
}

export function rstStreamFrame(streamId: number, code: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code, 0);
  return frame(FrameType.RST_STREAM, 0, streamId, p);
}

/** Parses frames from a buffer: the complete ones and the leftover bytes. */
export function parseFrames(buf: Buffer): { frames: Array<{ type: number; flags: number; streamId: number; payload: Buffer }>; rest: Buffer } {
  const frames: Array<{ type: number; flags: number; streamId: number; payload: Buffer }> = [];
  let off = 0;
  while (buf.length - off >= 9) {
    const len = buf.readUIntBE(off, 3);
    if (buf.length - off < 9 + len) break;
    frames.push({ type: buf[off + 3]!, flags: buf[off + 4]!, streamId: buf.readUInt32BE(off + 5) & 0x7fffffff, payload: buf.subarray(off + 9, off + 9 + len) });
    off += 9 + len;
  }
  return { frames, rest: buf.subarray(off) };
}
