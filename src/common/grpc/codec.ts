/**
 * gRPC length-prefixed framing, after Envoy's `source/common/grpc/codec.cc`:
 * each message is `flags(1) length(4, big-endian) payload(length)`. Frames
 * arrive split across body chunks in any way, so both classes keep state.
 */

/** The gRPC frame header size: one flag byte and a 4-byte length. */
export const GRPC_FRAME_HEADER_SIZE = 5;

/** gRPC-Web trailers frame flag (the high bit). */
export const GRPC_WEB_TRAILER_FLAG = 0x80;

export interface GrpcFrame {
  readonly flags: number;
  /** Header and payload together, as they appeared on the wire. */
  readonly wire: Buffer;
}

/**
 * Grpc::Decoder: collects whole frames out of a byte stream. Bytes of an
 * incomplete frame stay inside until the rest arrives.
 */
export class GrpcFrameDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /** Consumes `data`; returns every frame completed by it. */
  decode(data: Buffer): GrpcFrame[] {
    if (data.length > 0) { this.pending.push(data); this.pendingBytes += data.length; }
    const frames: GrpcFrame[] = [];
    if (this.pendingBytes < GRPC_FRAME_HEADER_SIZE) return frames;
    let buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    let off = 0;
    while (buf.length - off >= GRPC_FRAME_HEADER_SIZE) {
      const len = buf.readUInt32BE(off + 1);
      const end = off + GRPC_FRAME_HEADER_SIZE + len;
      if (end > buf.length) break;
      frames.push({ flags: buf[off]!, wire: buf.subarray(off, end) });
      off = end;
    }
    buf = buf.subarray(off);
    this.pending = buf.length > 0 ? [buf] : [];
    this.pendingBytes = buf.length;
    return frames;
  }

  /** Bytes held for a frame not yet complete. */
  get bufferedBytes(): number { return this.pendingBytes; }
}

/**
 * Grpc::FrameInspector: counts frames without keeping any bytes. A frame is
 * counted when its flag byte is seen (as Envoy does).
 */
export class GrpcFrameInspector {
  /** Header bytes still to read (5..1), or 0 while inside a payload. */
  private headerLeft = GRPC_FRAME_HEADER_SIZE;
  private length = 0;
  private payloadLeft = 0;
  private count = 0;

  /** Reads `data`; returns how many new frames started in it. */
  inspect(data: Buffer): number {
    const before = this.count;
    let i = 0;
    while (i < data.length) {
      if (this.headerLeft > 0) {
        if (this.headerLeft === GRPC_FRAME_HEADER_SIZE) { this.count++; this.length = 0; }
        else this.length = this.length * 256 + data[i]!;
        i++;
        if (--this.headerLeft === 0) {
          this.payloadLeft = this.length;
          if (this.payloadLeft === 0) this.headerLeft = GRPC_FRAME_HEADER_SIZE;
        }
      } else {
        const take = Math.min(this.payloadLeft, data.length - i);
        i += take;
        this.payloadLeft -= take;
        if (this.payloadLeft === 0) this.headerLeft = GRPC_FRAME_HEADER_SIZE;
      }
    }
    return this.count - before;
  }

  frameCount(): number { return this.count; }
}

/** One gRPC frame around `payload` (flags 0: uncompressed message). */
export function encodeGrpcFrame(payload: Buffer, flags = 0): Buffer {
  const out = Buffer.allocUnsafe(GRPC_FRAME_HEADER_SIZE + payload.length);
  out[0] = flags;
  out.writeUInt32BE(payload.length, 1);
  payload.copy(out, GRPC_FRAME_HEADER_SIZE);
  return out;
}
