/**
 * Building a redirect `Location`, after Envoy's `Http::Utility::newUri` and
 * `processRequestHost` (`source/common/http/utility.cc`):
 *
 * - scheme: `scheme_redirect`, else `https` for `https_redirect`, else the
 *   request's `:scheme` (the URL's scheme, not the connection's);
 * - port: `port_redirect` (as `:N`), else none added;
 * - host: `host_redirect`, else the request's `:authority`, from which the port
 *   is removed when `port_redirect` is set, or when the scheme changes and the
 *   port is the default of the ORIGINAL scheme — judged by
 *   `x-forwarded-proto`: `:443` for https, `:80` for http (so
 *   `http://a:80/` redirected to https gives `https://a/`, while
 *   `http://a:8080/` keeps its port);
 * - path: `path_redirect` (the request's query is kept unless `path_redirect`
 *   has its own query, which then wins and is never stripped), else the
 *   request path after `prefix_rewrite` / `regex_rewrite` of the redirect;
 *   a leading `/` is added if missing; `strip_query` drops the query.
 */
import type { HeaderMap } from '../envoy/http/header_map.js';

export interface RedirectConfig {
  readonly schemeRedirect: string;
  readonly httpsRedirect: boolean;
  readonly hostRedirect: string;
  /** `:N`, or '' when not redirecting the port. */
  readonly portRedirect: string;
  readonly pathRedirect: string;
  readonly pathRedirectHasQuery: boolean;
  readonly stripQuery: boolean;
}

function schemeIsHttps(s: string): boolean {
  return s.length === 5 && s.toLowerCase() === 'https';
}
function schemeIsHttp(s: string): boolean {
  return s.length === 4 && s.toLowerCase() === 'http';
}

/** The request host, with its port removed when the redirect calls for it. */
export function processRequestHost(host: string, forwardedProto: string, newScheme: string, newPort: string): string {
  if (host.length === 0) return host;
  let hostEnd: number;
  if (host.charCodeAt(0) === 91 /* [ */) {
    hostEnd = host.lastIndexOf(']:');
    if (hostEnd !== -1) hostEnd += 1;
  } else {
    hostEnd = host.lastIndexOf(':');
  }
  if (hostEnd !== -1) {
    const requestPort = host.slice(hostEnd);
    let removePort = newPort.length > 0;
    if (newScheme !== forwardedProto) {
      removePort ||= schemeIsHttps(forwardedProto) && requestPort === ':443';
      removePort ||= schemeIsHttp(forwardedProto) && requestPort === ':80';
    }
    if (removePort) return host.slice(0, hostEnd);
  }
  return host;
}

/**
 * The Location for `headers`, given the request path to use (`path`, already
 * rewritten by a redirect prefix/regex rewrite). `config` null builds the URL
 * of the request itself (Envoy does this for a direct_response with a 201 or
 * 3xx status).
 */
export function newUri(config: RedirectConfig | null, headers: HeaderMap, path: string): string {
  let scheme: string;
  if (config !== null && config.schemeRedirect.length > 0) scheme = config.schemeRedirect;
  else if (config !== null && config.httpsRedirect) scheme = 'https';
  else scheme = headers.get(':scheme') ?? '';

  const port = config !== null ? config.portRedirect : '';

  let host: string;
  if (config !== null && config.hostRedirect.length > 0) host = config.hostRedirect;
  else host = processRequestHost(headers.get(':authority') ?? '', headers.get('x-forwarded-proto') ?? '', scheme, port);

  let finalPath: string;
  if (config !== null && config.pathRedirect.length > 0) {
    if (config.pathRedirectHasQuery) {
      finalPath = config.pathRedirect;
    } else {
      const q = path.indexOf('?');
      finalPath = q === -1 ? config.pathRedirect : config.pathRedirect + path.slice(q);
    }
  } else {
    finalPath = path;
  }
  if (!finalPath.startsWith('/')) finalPath = `/${finalPath}`;
  if (config !== null && !config.pathRedirectHasQuery && config.stripQuery) {
    const q = finalPath.indexOf('?');
    if (q !== -1) finalPath = finalPath.slice(0, q);
  }
  return `${scheme}://${host}${port}${finalPath}`;
}

/** The Location of a `require_tls` redirect (Envoy's createSslRedirectPath). */
export function sslRedirectUri(headers: HeaderMap): string {
  return `https://${headers.get(':authority') ?? ''}${headers.get(':path') ?? ''}`;
}
