/**
 * HTTP/2 framing (RFC 9113 §4 and §6): frame types, flags, error codes,
 * setting identifiers and the writers for the frames Legate's own HTTP/2
 * client codec sends. Every writer returns one Buffer holding the 9-byte frame
 * header and its payload, ready for the socket.
 */

export const enum FrameType {
  Data = 0x0,
  Headers = 0x1,
  Priority = 0x2,
  RstStream = 0x3,
  Settings = 0x4,
  PushPromise = 0x5,
  Ping = 0x6,
  GoAway = 0x7,
  WindowUpdate = 0x8,
  Continuation = 0x9,
}

export const enum FrameFlag {
  EndStream = 0x1,
  /** SETTINGS and PING. */
  Ack = 0x1,
  EndHeaders = 0x4,
  Padded = 0x8,
  Priority = 0x20,
}

/** RFC 9113 §7. */
export const enum ErrorCode {
  NoError = 0x0,
  ProtocolError = 0x1,
  InternalError = 0x2,
  FlowControlError = 0x3,
  SettingsTimeout = 0x4,
  StreamClosed = 0x5,
  FrameSizeError = 0x6,
  RefusedStream = 0x7,
  Cancel = 0x8,
  CompressionError = 0x9,
  ConnectError = 0xa,
  EnhanceYourCalm = 0xb,
  InadequateSecurity = 0xc,
  Http11Required = 0xd,
}

export const enum SettingId {
  HeaderTableSize = 0x1,
  EnablePush = 0x2,
  MaxConcurrentStreams = 0x3,
  InitialWindowSize = 0x4,
  MaxFrameSize = 0x5,
  MaxHeaderListSize = 0x6,
  EnableConnectProtocol = 0x8,
}

export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const FRAME_HEADER_SIZE = 9;
/** SETTINGS_MAX_FRAME_SIZE's initial value and lower bound. */
export const DEFAULT_MAX_FRAME_SIZE = 16384;
export const MAX_ALLOWED_FRAME_SIZE = 16777215;
/** SETTINGS_INITIAL_WINDOW_SIZE's initial value, and every connection's initial window. */
export const DEFAULT_WINDOW_SIZE = 65535;
/** The largest flow-control window (2^31 - 1). */
export const MAX_WINDOW_SIZE = 2147483647;
export const MAX_STREAM_ID = 2147483647;

/** A frame with room for `payloadLength` payload bytes after its header, which is filled in. */
export function allocFrame(payloadLength: number, type: FrameType, flags: number, streamId: number): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER_SIZE + payloadLength);
  writeFrameHeader(b, 0, payloadLength, type, flags, streamId);
  return b;
}

export function writeFrameHeader(b: Buffer, offset: number, length: number, type: FrameType, flags: number, streamId: number): void {
  b[offset] = (length >>> 16) & 0xff;
  b[offset + 1] = (length >>> 8) & 0xff;
  b[offset + 2] = length & 0xff;
  b[offset + 3] = type;
  b[offset + 4] = flags;
  b.writeUInt32BE(streamId & 0x7fffffff, offset + 5);
}

export function settingsFrame(settings: ReadonlyArray<readonly [SettingId, number]>): Buffer {
  const b = allocFrame(settings.length * 6, FrameType.Settings, 0, 0);
  let o = FRAME_HEADER_SIZE;
  for (const [id, value] of settings) {
    b.writeUInt16BE(id, o);
    b.writeUInt32BE(value >>> 0, o + 2);
    o += 6;
  }
  return b;
}

export const SETTINGS_ACK: Buffer = allocFrame(0, FrameType.Settings, FrameFlag.Ack, 0);

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  const b = allocFrame(4, FrameType.WindowUpdate, 0, streamId);
  b.writeUInt32BE(increment & 0x7fffffff, FRAME_HEADER_SIZE);
  return b;
}

export function rstStreamFrame(streamId: number, code: ErrorCode): Buffer {
  const b = allocFrame(4, FrameType.RstStream, 0, streamId);
  b.writeUInt32BE(code >>> 0, FRAME_HEADER_SIZE);
  return b;
}

export function pingFrame(payload: Buffer, ack: boolean): Buffer {
  const b = allocFrame(8, FrameType.Ping, ack ? FrameFlag.Ack : 0, 0);
  payload.copy(b, FRAME_HEADER_SIZE, 0, 8);
  return b;
}

export function goAwayFrame(lastStreamId: number, code: ErrorCode, debug = ''): Buffer {
  const debugBytes = Buffer.from(debug, 'utf8');
  const b = allocFrame(8 + debugBytes.length, FrameType.GoAway, 0, 0);
  b.writeUInt32BE(lastStreamId & 0x7fffffff, FRAME_HEADER_SIZE);
  b.writeUInt32BE(code >>> 0, FRAME_HEADER_SIZE + 4);
  debugBytes.copy(b, FRAME_HEADER_SIZE + 8);
  return b;
}

/**
 * A header block as one HEADERS frame, followed by CONTINUATION frames when
 * it is larger than the peer's SETTINGS_MAX_FRAME_SIZE (RFC 9113 §6.10).
 */
export function headersFrames(streamId: number, block: Buffer, endStream: boolean, maxFrameSize: number): Buffer {
  const es = endStream ? FrameFlag.EndStream : 0;
  if (block.length <= maxFrameSize) {
    const b = allocFrame(block.length, FrameType.Headers, es | FrameFlag.EndHeaders, streamId);
    block.copy(b, FRAME_HEADER_SIZE);
    return b;
  }
  const frames = Math.ceil(block.length / maxFrameSize);
  const b = Buffer.allocUnsafe(block.length + frames * FRAME_HEADER_SIZE);
  let o = 0;
  for (let i = 0, start = 0; i < frames; i++, start += maxFrameSize) {
    const len = Math.min(maxFrameSize, block.length - start);
    const last = i === frames - 1;
    const type = i === 0 ? FrameType.Headers : FrameType.Continuation;
    const flags = (i === 0 ? es : 0) | (last ? FrameFlag.EndHeaders : 0);
    writeFrameHeader(b, o, len, type, flags, streamId);
    block.copy(b, o + FRAME_HEADER_SIZE, start, start + len);
    o += FRAME_HEADER_SIZE + len;
  }
  return b;
}

/** The 9-byte header of a DATA frame whose payload is written separately (no copy of the body). */
export function dataFrameHeader(streamId: number, length: number, endStream: boolean): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER_SIZE);
  writeFrameHeader(b, 0, length, FrameType.Data, endStream ? FrameFlag.EndStream : 0, streamId);
  return b;
}
