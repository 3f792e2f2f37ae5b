/**
 * Status reason phrases exactly as Envoy's CodeUtility::toString
 * (source/common/http/codes.cc) writes them, and the response-code details the
 * HTTP/1 codec reports (source/common/http/http1/codec_impl.cc,
 * docs/root/configuration/http/http_conn_man/response_code_details.rst).
 */

const REASONS: Record<number, string> = {
  100: 'Continue',
  101: 'Switching Protocols',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  203: 'Non-Authoritative Information',
  204: 'No Content',
  205: 'Reset Content',
  206: 'Partial Content',
  207: 'Multi-Status',
  208: 'Already Reported',
  226: 'IM Used',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  305: 'Use Proxy',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  417: 'Expectation Failed',
  421: 'Misdirected Request',
  422: 'Unprocessable Entity',
  423: 'Locked',
  424: 'Failed Dependency',
  425: 'Too Early',
  426: 'Upgrade Required',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
  506: 'Variant Also Negotiates',
  507: 'Insufficient Storage',
  508: 'Loop Detected',
  510: 'Not Extended',
  511: 'Network Authentication Required',
  599: 'Last Unassigned Server Error Code',
};

/** Envoy's reason phrase for `code` ("Unknown" for unassigned codes). */
export function reasonPhrase(code: number): string {
  return REASONS[code] ?? 'Unknown';
}

// Status lines are built once per code and protocol, then reused.
const STATUS_LINE_11: string[] = [];
const STATUS_LINE_10: string[] = [];

/** `HTTP/1.1 200 OK\r\n` (or HTTP/1.0), cached per code. */
export function statusLine(code: number, http10: boolean): string {
  const cache = http10 ? STATUS_LINE_10 : STATUS_LINE_11;
  let line = cache[code];
  if (line === undefined) {
    line = `${http10 ? 'HTTP/1.0' : 'HTTP/1.1'} ${code} ${reasonPhrase(code)}\r\n`;
    if (code >= 100 && code <= 999) cache[code] = line;
  }
  return line;
}

/** Response-code details set by the HTTP/1 codec, as Envoy names them. */
export const Http1Details = {
  CodecError: 'http1.codec_error',
  HeadersTooLarge: 'http1.headers_too_large',
  TooManyHeaders: 'http1.too_many_headers',
  InvalidCharacters: 'http1.invalid_characters',
  InvalidUrl: 'http1.invalid_url',
  InvalidTransferEncoding: 'http1.invalid_transfer_encoding',
  ChunkedContentLength: 'http1.content_length_and_chunked_not_allowed',
  BodyDisallowed: 'http1.body_disallowed',
  TransferEncodingNotAllowed: 'http1.transfer_encoding_not_allowed',
  ContentLengthNotAllowed: 'http1.content_length_not_allowed',
  InvalidUnderscore: 'http1.unexpected_underscore',
  InvalidScheme: 'http1.invalid_scheme',
  /** StreamInfo::ResponseCodeDetails::LowVersion (HTTP/1.0 without accept_http_10). */
  LowVersion: 'low_version',
  /** StreamInfo::ResponseCodeDetails::MissingHost. */
  MissingHost: 'missing_host_header',
  /** SharedResponseCodeDetails::InvalidAuthority. */
  InvalidAuthority: 'http.invalid_authority',
} as const;
