/**
 * Tag extraction, after Envoy's `source/common/stats/tag_producer_impl.cc`,
 * `tag_extractor_impl.cc` and the default table in
 * `source/common/config/well_known_names.cc`.
 *
 * A full stat name such as `http.ingress_http.downstream_rq_2xx` is turned
 * into a tag-extracted name `http.downstream_rq_xx` plus tags
 * `[[envoy.response_code_class, 2], [envoy.http_conn_manager_prefix, ingress_http]]`.
 * Prometheus output is built from these, so the order and the names must be
 * Envoy's exactly:
 *
 * - Every extractor looks at the ORIGINAL name; the characters each one
 *   claims are collected and removed at the end.
 * - Order: first all extractors without a prefix token (in the order they
 *   were added), then the extractors registered for the name's first token
 *   (`cluster`, `http`, `listener`, ...), again in order added. Defaults are
 *   added before custom `stats_tags`.
 * - When two extractors share a tag name (HTTP_CONN_MANAGER_PREFIX has two),
 *   only the first that matches contributes.
 *
 * Regexes run on V8's engine. Envoy runs its defaults with RE2; these
 * fixed, built-in patterns are written so that leftmost-first backtracking
 * gives RE2's submatches, and none can backtrack badly on a stat name (whose
 * text comes from our own config, not from requests). re2js was measured at
 * 5-50 µs per pattern per name, too slow for stores with 100k stats. Custom
 * `stats_tags` regexes are ECMAScript, as Envoy compiles them with std::regex.
 * Extraction happens once per stat (the store caches the result), never per
 * scrape. Admin query filters, which do come from outside, use re2js
 * (stats_params.ts).
 */
import type { StatsConfig } from '../generated/envoy/config/metrics/v3/stats_pb.js';

/** A tag as [name, value]. */
export type Tag = readonly [name: string, value: string];

/** The result of extracting tags from one stat name. */
export interface TagExtraction {
  readonly tagExtractedName: string;
  readonly tags: readonly Tag[];
}

/** Envoy's well-known tag names (`Config::TagNames`). */
export const TagNames = {
  CLUSTER_NAME: 'envoy.cluster_name',
  LISTENER_ADDRESS: 'envoy.listener_address',
  HTTP_CONN_MANAGER_PREFIX: 'envoy.http_conn_manager_prefix',
  HTTP_USER_AGENT: 'envoy.http_user_agent',
  SSL_CIPHER: 'envoy.ssl_cipher',
  SSL_CIPHER_SUITE: 'cipher_suite',
  // The next four follow Envoy's `envoy.<name>` convention (newer table entries).
  SSL_CURVE: 'envoy.ssl_curve',
  SSL_SIGALG: 'envoy.ssl_sigalg',
  SSL_VERSION: 'envoy.ssl_version',
  TLS_CERTIFICATE: 'envoy.tls_certificate',
  CLIENTSSL_PREFIX: 'envoy.clientssl_prefix',
  MONGO_PREFIX: 'envoy.mongo_prefix',
  MONGO_CMD: 'envoy.mongo_cmd',
  MONGO_COLLECTION: 'envoy.mongo_collection',
  MONGO_CALLSITE: 'envoy.mongo_callsite',
  RATELIMIT_PREFIX: 'envoy.ratelimit_prefix',
  LOCAL_HTTP_RATELIMIT_PREFIX: 'envoy.local_http_ratelimit_prefix',
  LOCAL_NETWORK_RATELIMIT_PREFIX: 'envoy.local_network_ratelimit_prefix',
  LOCAL_LISTENER_RATELIMIT_PREFIX: 'envoy.local_listener_ratelimit_prefix',
  DNS_FILTER_PREFIX: 'envoy.dns_filter_prefix',
  CONNECTION_LIMIT_PREFIX: 'envoy.connection_limit_prefix',
  RBAC_PREFIX: 'envoy.rbac_prefix',
  RBAC_HTTP_PREFIX: 'envoy.rbac_http_prefix',
  RBAC_POLICY_NAME: 'envoy.rbac_policy_name',
  TCP_PREFIX: 'envoy.tcp_prefix',
  UDP_PREFIX: 'envoy.udp_prefix',
  FAULT_DOWNSTREAM_CLUSTER: 'envoy.fault_downstream_cluster',
  DYNAMO_OPERATION: 'envoy.dynamo_operation',
  DYNAMO_TABLE: 'envoy.dynamo_table',
  DYNAMO_PARTITION_ID: 'envoy.dynamo_partition_id',
  GRPC_BRIDGE_SERVICE: 'envoy.grpc_bridge_service',
  GRPC_BRIDGE_METHOD: 'envoy.grpc_bridge_method',
  VIRTUAL_HOST: 'envoy.virtual_host',
  VIRTUAL_CLUSTER: 'envoy.virtual_cluster',
  RESPONSE_CODE: 'envoy.response_code',
  RESPONSE_CODE_CLASS: 'envoy.response_code_class',
  RDS_ROUTE_CONFIG: 'envoy.rds_route_config',
  SCOPED_RDS_CONFIG: 'envoy.scoped_rds_config',
  ROUTE: 'envoy.route',
  WORKER_ID: 'envoy.worker_id',
  THRIFT_PREFIX: 'envoy.thrift_prefix',
  REDIS_PREFIX: 'envoy.redis_prefix',
  EXT_AUTHZ_PREFIX: 'envoy.ext_authz_prefix',
  PROXY_PROTOCOL_PREFIX: 'envoy.proxy_protocol_prefix',
  PROXY_PROTOCOL_VERSION: 'envoy.proxy_protocol_version',
  GOOGLE_GRPC_CLIENT_PREFIX: 'envoy.google_grpc_client_prefix',
  XDS_RESOURCE_NAME: 'envoy.xds_resource_name',
} as const;

// Shorthands substituted into the default regexes, as well_known_names.cc does.
const SUBSTITUTIONS: ReadonlyArray<readonly [string, string]> = [
  ['<ADDRESS>', String.raw`(?:(?:\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[[a-fA-F_\d]+\])_\d+)`],
  ['<CIPHER>', String.raw`[\w-]+`],
  ['<TLS_VERSION>', String.raw`TLSv\d\.\d`],
  ['<TAG_VALUE>', String.raw`[^\.]+`],
  ['<ROUTE_CONFIG_NAME>', String.raw`[\w-\./]+`],
  ['<SCOPED_ROUTE_CONFIG_NAME>', String.raw`[\w-\.]+`],
  ['<LISTENER_OR_CLUSTER_WITH_NAME>', String.raw`(?:listener|cluster)\..*?`],
  ['<PROXY_PROTOCOL_VERSION>', String.raw`\d`],
];

function expandRegex(regex: string): string {
  let out = regex;
  for (const [from, to] of SUBSTITUTIONS) out = out.split(from).join(to);
  return out;
}

interface RegexDescriptor {
  readonly name: string;
  readonly regex: string;
  readonly substr: string;
  readonly negativeMatch: string;
}
interface TokenDescriptor {
  readonly name: string;
  readonly pattern: string;
}

const T = TagNames;
const re = (name: string, regex: string, substr = '', negativeMatch = ''): RegexDescriptor =>
  ({ name, regex: expandRegex(regex), substr, negativeMatch });
const tok = (name: string, pattern: string): TokenDescriptor => ({ name, pattern });

// Both tables keep Envoy's order (TagNameValues::TagNameValues()). The two
// tables are interleaved in Envoy's source; all regex descriptors are added
// before all tokenized ones, which is what the order below reflects.
const DEFAULT_REGEX_DESCRIPTORS: readonly RegexDescriptor[] = [
  re(T.RESPONSE_CODE, String.raw`_rq(_(\d{3}))$`, '_rq_'),
  re(T.RESPONSE_CODE_CLASS, String.raw`_rq_((\d))xx$`, '_rq_'),
  re(T.DYNAMO_PARTITION_ID,
    String.raw`^http\.<TAG_VALUE>\.dynamodb\.table\.<TAG_VALUE>\.capacity\.<TAG_VALUE>(\.__partition_id=(\w{7}))$`,
    '.dynamodb.table.'),
  re(T.DYNAMO_OPERATION,
    String.raw`^http\.<TAG_VALUE>\.dynamodb.(?:operation|table\.<TAG_VALUE>\.capacity)(\.(<TAG_VALUE>))(?:\.|$)`,
    '.dynamodb.'),
  re(T.DYNAMO_TABLE, String.raw`^http\.<TAG_VALUE>\.dynamodb.(?:table|error)\.((<TAG_VALUE>)\.)`, '.dynamodb.'),
  re(T.SSL_CIPHER, String.raw`^listener\..*?\.ssl\.ciphers(\.(<CIPHER>))$`, '.ssl.ciphers.'),
  re(T.SSL_CURVE, String.raw`^<LISTENER_OR_CLUSTER_WITH_NAME>\.ssl\.curves(\.(<CIPHER>))$`, '.ssl.curves.'),
  re(T.SSL_SIGALG, String.raw`^<LISTENER_OR_CLUSTER_WITH_NAME>\.ssl\.sigalgs(\.(<CIPHER>))$`, '.ssl.sigalgs.'),
  re(T.SSL_VERSION, String.raw`^<LISTENER_OR_CLUSTER_WITH_NAME>\.ssl\.versions(\.(<TLS_VERSION>))$`, '.ssl.versions.'),
  re(T.SSL_CIPHER_SUITE, String.raw`^cluster\.<TAG_VALUE>\.ssl\.ciphers(\.(<CIPHER>))$`, '.ssl.ciphers.'),
  re(T.HTTP_CONN_MANAGER_PREFIX, String.raw`^listener\..*?\.http\.((<TAG_VALUE>)\.)`, '.http.'),
  re(T.WORKER_ID,
    String.raw`^(?:listener\.(?:<ADDRESS>|<TAG_VALUE>)|server|listener_manager|thread_local_cluster_manager)\.worker_((\d+)\.)`),
  re(T.LISTENER_ADDRESS, String.raw`^listener\.((<ADDRESS>|<TAG_VALUE>)\.)`, '', 'admin'),
  re(T.RDS_ROUTE_CONFIG, String.raw`^http\.<TAG_VALUE>\.rds\.((<ROUTE_CONFIG_NAME>)\.)\w+?$`, '.rds.'),
  re(T.SCOPED_RDS_CONFIG, String.raw`^http\.<TAG_VALUE>\.scoped_rds\.((<SCOPED_ROUTE_CONFIG_NAME>)\.)\w+?$`, '.scoped_rds.'),
  re(T.RBAC_POLICY_NAME,
    String.raw`^http\.<TAG_VALUE>\.rbac\.(?:<TAG_VALUE>\.)?policy\.((<TAG_VALUE>)\.)(allowed|shadow_allowed|denied|shadow_denied)$`),
  re(T.RBAC_HTTP_PREFIX, String.raw`^http\.<TAG_VALUE>\.rbac\.((<TAG_VALUE>)\.).*?`, '', 'policy'),
  re(T.PROXY_PROTOCOL_PREFIX, String.raw`^proxy_proto\.((<TAG_VALUE>)\.).+$`, '', 'versions'),
  re(T.PROXY_PROTOCOL_VERSION, String.raw`^proxy_proto\.((?:<TAG_VALUE>\.)?versions\.v(<PROXY_PROTOCOL_VERSION>)\.)\w+$`),
  re(T.TLS_CERTIFICATE, String.raw`^<LISTENER_OR_CLUSTER_WITH_NAME>\.ssl\.certificate\.((<TAG_VALUE>)\.).*$`, '.ssl.certificate'),
  re(T.XDS_RESOURCE_NAME, String.raw`^sds\.((<TAG_VALUE>)\.).+`),
];

const DEFAULT_TOKEN_DESCRIPTORS: readonly TokenDescriptor[] = [
  tok(T.MONGO_CALLSITE, 'mongo.*.collection.*.callsite.$.query.**'),
  tok(T.MONGO_COLLECTION, 'mongo.*.collection.$.**.query.*'),
  tok(T.MONGO_CMD, 'mongo.*.cmd.$.**'),
  tok(T.GRPC_BRIDGE_METHOD, 'cluster.*.grpc.*.$.**'),
  tok(T.HTTP_USER_AGENT, 'http.*.user_agent.$.**'),
  tok(T.VIRTUAL_CLUSTER, 'vhost.*.vcluster.$.**'),
  tok(T.FAULT_DOWNSTREAM_CLUSTER, 'http.*.fault.$.**'),
  tok(T.GRPC_BRIDGE_SERVICE, 'cluster.*.grpc.$.**'),
  tok(T.TCP_PREFIX, 'tcp.$.**'),
  tok(T.UDP_PREFIX, 'udp.$.**'),
  tok(T.CLIENTSSL_PREFIX, 'auth.clientssl.$.**'),
  tok(T.RATELIMIT_PREFIX, 'ratelimit.$.**'),
  tok(T.CLUSTER_NAME, 'cluster.$.**'),
  tok(T.EXT_AUTHZ_PREFIX, 'cluster.*.ext_authz.$.**'),
  tok(T.EXT_AUTHZ_PREFIX, 'http.*.ext_authz.$.**'),
  tok(T.HTTP_CONN_MANAGER_PREFIX, 'http.$.**'),
  tok(T.VIRTUAL_HOST, 'vhost.$.**'),
  tok(T.MONGO_PREFIX, 'mongo.$.**'),
  tok(T.ROUTE, 'vhost.*.route.$.**'),
  tok(T.THRIFT_PREFIX, 'thrift.$.**'),
  tok(T.REDIS_PREFIX, 'redis.$.**'),
  tok(T.LOCAL_HTTP_RATELIMIT_PREFIX, '$.http_local_rate_limit.**'),
  tok(T.LOCAL_NETWORK_RATELIMIT_PREFIX, 'local_rate_limit.$.**'),
  tok(T.LOCAL_LISTENER_RATELIMIT_PREFIX, 'listener_local_ratelimit.$.**'),
  tok(T.DNS_FILTER_PREFIX, 'dns_filter.$.**'),
  tok(T.CONNECTION_LIMIT_PREFIX, 'connection_limit.$.**'),
  tok(T.RBAC_PREFIX, '$.rbac.**'),
  tok(T.GOOGLE_GRPC_CLIENT_PREFIX, 'grpc.$.**'),
];

/** The name being extracted, split into tokens only if a token extractor asks. */
class ExtractionContext {
  private tokenCache: string[] | undefined;
  constructor(readonly name: string) {}
  tokens(): string[] {
    if (this.tokenCache === undefined) this.tokenCache = this.name.split('.');
    return this.tokenCache;
  }
}

type Interval = [start: number, end: number];

abstract class TagExtractorBase {
  /** Set when another extractor has the same tag name. */
  otherWithSameName = false;
  constructor(readonly name: string, readonly prefixToken: string) {}
  abstract extract(ctx: ExtractionContext, tags: Tag[], remove: Interval[]): boolean;
}

/**
 * The literal first token of a regex anchored with `^`, when the regex goes
 * on with `\.` or `(?=\.)` or ends right after it with `$` (Envoy's
 * extractRegexPrefix); '' otherwise.
 */
export function extractRegexPrefix(regex: string): string {
  if (!regex.startsWith('^')) return '';
  for (let i = 1; i < regex.length; i++) {
    const c = regex.charCodeAt(i);
    const alnum = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
    if (alnum) continue;
    if (i > 1) {
      const last = i === regex.length - 1;
      const rest = regex.slice(i);
      if ((!last && (rest.startsWith('\\.') || rest.startsWith('(?=\\.)'))) || (last && regex[i] === '$')) {
        return regex.slice(1, i);
      }
    }
    return '';
  }
  return '';
}

/** A default (Envoy RE2) extractor: PartialMatch, remove group 1, value group 2 or else group 1. */
class Re2TagExtractor extends TagExtractorBase {
  /** Without match indices: V8 runs it several times faster; most names do not match. */
  private readonly probe: RegExp;
  private readonly re: RegExp;
  constructor(name: string, regex: string, private readonly substr: string, private readonly negativeMatch: string) {
    super(name, extractRegexPrefix(regex));
    this.probe = new RegExp(regex);
    this.re = new RegExp(regex, 'd');
  }
  extract(ctx: ExtractionContext, tags: Tag[], remove: Interval[]): boolean {
    const name = ctx.name;
    if (this.substr !== '' && !name.includes(this.substr)) return false;
    if (!this.probe.test(name)) return false;
    const m = this.re.exec(name);
    if (m === null) return false;
    const removeText = m[1];
    const span = m.indices?.[1];
    if (removeText === undefined || removeText === '' || span === undefined) return false;
    const valueText = m[2];
    const value = valueText === undefined || valueText === '' ? removeText : valueText;
    if (this.negativeMatch !== '' && this.negativeMatch === value) return false;
    tags.push([this.name, value]);
    remove.push([span[0], span[1]]);
    return true;
  }
}

/** A custom `stats_tags` regex: ECMAScript semantics, like Envoy's std::regex extractor. */
class StdRegexTagExtractor extends TagExtractorBase {
  private readonly re: RegExp;
  constructor(name: string, regex: string) {
    super(name, extractRegexPrefix(regex));
    try {
      this.re = new RegExp(regex, 'd');
    } catch (e) {
      throw new Error(`Invalid regex '${regex}': ${(e as Error).message}`);
    }
  }
  extract(ctx: ExtractionContext, tags: Tag[], remove: Interval[]): boolean {
    const m = this.re.exec(ctx.name);
    if (m === null || m.length <= 1) return false;
    const removeText = m[1] ?? '';
    const value = m.length > 2 ? (m[2] ?? '') : removeText;
    tags.push([this.name, value]);
    const span = m.indices?.[1];
    if (span !== undefined) remove.push([span[0], span[1]]);
    return true;
  }
}

/** Envoy's TagExtractorTokensImpl: `$` captures a token, `*` skips one, `**` skips any run. */
class TokenTagExtractor extends TagExtractorBase {
  private readonly tokens: readonly string[];
  private readonly matchIndex: number;
  constructor(name: string, pattern: string) {
    const tokens = pattern.split('.');
    const first = tokens[0] ?? '';
    super(name, first !== '$' && first !== '*' && first !== '**' ? first : '');
    this.tokens = tokens;
    this.matchIndex = Math.max(0, tokens.indexOf('$'));
  }

  extract(ctx: ExtractionContext, tags: Tag[], remove: Interval[]): boolean {
    const input = ctx.tokens();
    const found = { start: 0, index: input.length };
    if (!this.search(input, 0, 0, 0, found)) return false;
    const value = input[found.index]!;
    let start = found.start;
    let end = start + value.length;
    if (found.index < input.length - 1) end++;
    else if (start > 0) start--;
    tags.push([this.name, value]);
    remove.push([start, end]);
    return true;
  }

  private search(input: readonly string[], inputIndex: number, patternIndex: number, charIndex: number,
    found: { start: number; index: number }): boolean {
    const pattern = this.tokens;
    for (; inputIndex < input.length && patternIndex < pattern.length; inputIndex++, patternIndex++) {
      if (patternIndex === this.matchIndex) {
        found.start = charIndex;
        found.index = inputIndex;
      } else {
        const expected = pattern[patternIndex]!;
        if (expected === '**') {
          if (patternIndex === pattern.length - 1) {
            patternIndex = pattern.length;
            inputIndex = input.length;
            break;
          }
          patternIndex++;
          for (; inputIndex < input.length; inputIndex++) {
            if (this.search(input, inputIndex, patternIndex, charIndex, found)) return true;
            charIndex += input[inputIndex]!.length + 1;
          }
          return false;
        }
        const actual = input[inputIndex]!;
        if (expected !== '*' && expected !== actual) return false;
        charIndex += actual.length + 1;
      }
    }
    return patternIndex === pattern.length && inputIndex === input.length;
  }
}

class FixedTagExtractor extends TagExtractorBase {
  constructor(name: string, private readonly value: string) {
    super(name, extractRegexPrefix(value));
  }
  extract(_ctx: ExtractionContext, tags: Tag[]): boolean {
    tags.push([this.name, this.value]);
    return true;
  }
}

/** Removes the union of the half-open intervals from `s`. */
function removeIntervals(s: string, intervals: Interval[]): string {
  if (intervals.length === 0) return s;
  const sorted = intervals.slice().sort((a, b) => a[0] - b[0]);
  let out = '';
  let pos = 0;
  for (const [start, end] of sorted) {
    if (start > pos) out += s.slice(pos, start);
    if (end > pos) pos = end;
  }
  return out + s.slice(pos);
}

/** A custom tag from `stats_config.stats_tags`. */
export interface StatsTagSpec {
  readonly tagName: string;
  /** A regex whose first group is removed and whose second (or first) group is the value. */
  readonly regex?: string;
  /** A constant tag added to every stat. */
  readonly fixedValue?: string;
}

/** The parts of `stats_config` that drive tag extraction. */
export interface TagProducerConfig {
  /** Defaults to true, as in Envoy. */
  readonly useAllDefaultTags?: boolean;
  readonly statsTags?: readonly StatsTagSpec[];
}

/** Converts a decoded bootstrap `stats_config` into a TagProducerConfig. */
export function tagProducerConfigFromProto(config: Pick<StatsConfig, 'statsTags' | 'useAllDefaultTags'> | undefined): TagProducerConfig {
  if (config === undefined) return {};
  return {
    useAllDefaultTags: config.useAllDefaultTags,
    statsTags: config.statsTags.map((t): StatsTagSpec => {
      if (t.tagValue.case === 'regex') return { tagName: t.tagName, regex: t.tagValue.value };
      if (t.tagValue.case === 'fixedValue') return { tagName: t.tagName, fixedValue: t.tagValue.value };
      return { tagName: t.tagName };
    }),
  };
}

/** Turns stat names into tag-extracted names and tags. Build once per config. */
export class TagProducer {
  private readonly withoutPrefix: TagExtractorBase[] = [];
  private readonly byPrefix = new Map<string, TagExtractorBase[]>();
  private readonly byName = new Map<string, TagExtractorBase>();

  /**
   * Builds a producer from `stats_config` (and `--stats-tag`-style fixed
   * tags). Throws with Envoy's message on a bad specifier.
   */
  static create(config: TagProducerConfig = {}, cliTags: readonly Tag[] = []): TagProducer {
    const p = new TagProducer();
    if (config.useAllDefaultTags !== false) {
      for (const d of DEFAULT_REGEX_DESCRIPTORS) p.add(new Re2TagExtractor(d.name, d.regex, d.substr, d.negativeMatch));
      for (const d of DEFAULT_TOKEN_DESCRIPTORS) p.add(new TokenTagExtractor(d.name, d.pattern));
    }
    for (const [name, value] of cliTags) p.add(new FixedTagExtractor(name, value));
    for (const spec of config.statsTags ?? []) {
      if (spec.tagName === '') throw new Error('tag_name cannot be empty');
      if (spec.fixedValue !== undefined) {
        p.add(new FixedTagExtractor(spec.tagName, spec.fixedValue));
      } else if (spec.regex === undefined || spec.regex === '') {
        if (p.addDefaultsNamed(spec.tagName) === 0) {
          throw new Error(`No regex specified for tag specifier and no default regex for name: '${spec.tagName}'`);
        }
      } else {
        p.add(new StdRegexTagExtractor(spec.tagName, spec.regex));
      }
    }
    return p;
  }

  private addDefaultsNamed(name: string): number {
    let n = 0;
    for (const d of DEFAULT_REGEX_DESCRIPTORS) {
      if (d.name === name) { this.add(new Re2TagExtractor(d.name, d.regex, d.substr, d.negativeMatch)); n++; }
    }
    for (const d of DEFAULT_TOKEN_DESCRIPTORS) {
      if (d.name === name) { this.add(new TokenTagExtractor(d.name, d.pattern)); n++; }
    }
    return n;
  }

  private add(e: TagExtractorBase): void {
    const other = this.byName.get(e.name);
    if (other !== undefined) {
      other.otherWithSameName = true;
      e.otherWithSameName = true;
    } else {
      this.byName.set(e.name, e);
    }
    if (e.prefixToken === '') {
      this.withoutPrefix.push(e);
    } else {
      let list = this.byPrefix.get(e.prefixToken);
      if (list === undefined) this.byPrefix.set(e.prefixToken, (list = []));
      list.push(e);
    }
  }

  /** Extracts tags from a full stat name. */
  produceTags(name: string): TagExtraction {
    const ctx = new ExtractionContext(name);
    const tags: Tag[] = [];
    const remove: Interval[] = [];
    let matchedNames: Set<string> | undefined;
    const run = (e: TagExtractorBase): void => {
      if (e.otherWithSameName && matchedNames?.has(e.name)) return;
      if (e.extract(ctx, tags, remove) && e.otherWithSameName) (matchedNames ??= new Set()).add(e.name);
    };
    for (const e of this.withoutPrefix) run(e);
    const dot = name.indexOf('.');
    if (dot !== -1) {
      const list = this.byPrefix.get(name.slice(0, dot));
      if (list !== undefined) for (const e of list) run(e);
    }
    return { tagExtractedName: removeIntervals(name, remove), tags };
  }
}

let defaultProducer: TagProducer | undefined;

/** The producer for an absent `stats_config` (all default tags), built once. */
export function defaultTagProducer(): TagProducer {
  return (defaultProducer ??= TagProducer.create());
}
