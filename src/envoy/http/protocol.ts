/** Wire protocol of a stream, as Envoy's `Http::Protocol`. Printed by %PROTOCOL%. */
export enum Protocol {
  Http10 = 'HTTP/1.0',
  Http11 = 'HTTP/1.1',
  Http2 = 'HTTP/2',
  Http3 = 'HTTP/3',
}
