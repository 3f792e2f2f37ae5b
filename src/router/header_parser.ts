/**
 * Header add/remove lists (`request_headers_to_add` / `_remove`,
 * `response_headers_to_add` / `_remove`), after Envoy's `Router::HeaderParser`
 * (`source/common/router/header_parser.cc`). One parser is compiled per level
 * (weighted cluster, route, virtual host, route configuration); a
 * `HeaderMutationChain` applies the levels in Envoy's order.
 *
 * Evaluation of one level, exactly as Envoy:
 * 1. every header in `*_headers_to_remove` is removed (remove-before-add);
 * 2. every value in `*_headers_to_add` is computed against the headers as they
 *    are now (formatters see none of this level's additions); an empty result
 *    is dropped unless `keep_empty_value`;
 * 3. `append_action` decides, still against the headers as they are now:
 *    APPEND_IF_EXISTS_OR_ADD (default) appends, ADD_IF_ABSENT adds only when
 *    the header is absent, OVERWRITE_IF_EXISTS_OR_ADD replaces or adds,
 *    OVERWRITE_IF_EXISTS replaces only when present;
 * 4. all overwrites are applied, then all appends.
 * Legacy `append: true|false` maps to APPEND_IF_EXISTS_OR_ADD |
 * OVERWRITE_IF_EXISTS_OR_ADD; setting both `append` and a non-default
 * `append_action` is an error. Keys starting with `:` and `host` may be neither
 * added nor removed.
 *
 * Values: a value with no `%` is a literal. `%%` is an escaped `%`. A value with
 * a `%VARIABLE%` is compiled once by the formatter factory (the substitution
 * formatter: `%DOWNSTREAM_REMOTE_ADDRESS%`, `%REQ(x)%`, `%UPSTREAM_METADATA(...)%`...).
 */
import type { HeaderMap } from '../envoy/http/header_map.js';
import type { StreamInfo } from '../envoy/stream_info/stream_info.js';
import type { HeaderValueOption } from '../generated/envoy/config/core/v3/base_pb.js';
import { asciiLower, equalsIgnoreCase } from '../common/matchers/ascii.js';
import { at, fail } from './config_error.js';

/** What a header value formatter sees. */
export interface HeaderFormatterContext {
  /** The downstream request headers (null when not known). */
  readonly requestHeaders: HeaderMap | null;
  /** The response headers, when formatting response headers. */
  readonly responseHeaders: HeaderMap | null;
  readonly streamInfo: StreamInfo;
}

/** A compiled substitution-format string. */
export interface HeaderValueFormatter {
  format(ctx: HeaderFormatterContext): string;
}

/** Compiles a format string once; throws on an invalid one. */
export type FormatterFactory = (format: string) => HeaderValueFormatter;

export const enum AppendAction {
  AppendIfExistsOrAdd = 0,
  AddIfAbsent = 1,
  OverwriteIfExistsOrAdd = 2,
  OverwriteIfExists = 3,
}

interface HeaderToAdd {
  readonly key: string;
  /** The value when it needs no formatting, else null. */
  readonly literal: string | null;
  readonly formatter: HeaderValueFormatter | null;
  readonly action: AppendAction;
  readonly keepEmptyValue: boolean;
}

/** Headers that request/response header lists may not touch (Envoy's isModifiableHeader). */
function isModifiable(key: string): boolean {
  return key.length > 0 && key.charCodeAt(0) !== 58 /* : */ && !equalsIgnoreCase(key, 'host');
}

/** If `value` contains only `%%` escapes, the unescaped literal; else null (it needs the formatter). */
function literalValue(value: string): string | null {
  let i = value.indexOf('%');
  if (i === -1) return value;
  let out = '';
  let start = 0;
  while (i !== -1) {
    if (value.charCodeAt(i + 1) !== 37 /* % */) return null;
    out += value.slice(start, i + 1);
    start = i + 2;
    i = value.indexOf('%', start);
  }
  return out + value.slice(start);
}

const NO_STRINGS: readonly string[] = [];

export class HeaderParser {
  readonly headersToAdd: readonly HeaderToAdd[];
  readonly headersToRemove: readonly string[];
  private readonly hasFormatter: boolean;
  // Per-evaluation scratch (evaluation is synchronous, so one set per parser suffices).
  private readonly scratchValues: string[];
  private readonly scratchKinds: Uint8Array;

  private constructor(toAdd: HeaderToAdd[], toRemove: string[]) {
    this.headersToAdd = toAdd;
    this.headersToRemove = toRemove.length === 0 ? NO_STRINGS : toRemove;
    this.hasFormatter = toAdd.some((h) => h.formatter !== null);
    this.scratchValues = new Array<string>(toAdd.length).fill('');
    this.scratchKinds = new Uint8Array(toAdd.length);
  }

  /**
   * Compiles one level's lists. Returns null when both are empty. `addField` /
   * `removeField` are the proto paths of the two lists, for errors.
   */
  static configure(
    toAdd: readonly HeaderValueOption[],
    toRemove: readonly string[],
    formatterFactory: FormatterFactory,
    addField: string,
    removeField: string,
  ): HeaderParser | null {
    if (toAdd.length === 0 && toRemove.length === 0) return null;
    const adds: HeaderToAdd[] = [];
    for (let i = 0; i < toAdd.length; i++) {
      const path = `${addField}[${i}]`;
      const opt = toAdd[i]!;
      const header = opt.header;
      if (header === undefined) fail(`${path}.header`, 'header is required');
      if (header.key.length === 0) fail(`${path}.header.key`, 'header name must not be empty');
      if (!isModifiable(header.key)) fail(`${path}.header.key`, `:-prefixed or host headers may not be modified ('${header.key}')`);
      let action: AppendAction;
      if (opt.append !== undefined) {
        if (opt.appendAction !== 0) fail(path, 'Both append and append_action are set and it\'s not allowed');
        action = opt.append ? AppendAction.AppendIfExistsOrAdd : AppendAction.OverwriteIfExistsOrAdd;
      } else {
        action = opt.appendAction as number as AppendAction;
      }
      const raw = header.value.length === 0 && header.rawValue.length > 0
        ? Buffer.from(header.rawValue).toString('latin1')
        : header.value;
      const literal = literalValue(raw);
      const formatter = literal === null ? at(`${path}.header.value`, () => formatterFactory(raw)) : null;
      adds.push({ key: asciiLower(header.key), literal, formatter, action, keepEmptyValue: opt.keepEmptyValue });
    }
    const removes: string[] = [];
    for (let i = 0; i < toRemove.length; i++) {
      const key = toRemove[i]!;
      if (key.length === 0) fail(`${removeField}[${i}]`, 'header name must not be empty');
      if (!isModifiable(key)) fail(`${removeField}[${i}]`, `:-prefixed or host headers may not be removed ('${key}')`);
      removes.push(asciiLower(key));
    }
    return new HeaderParser(adds, removes);
  }

  /** Applies this level to `headers`. `ctx` is only read when a value needs formatting. */
  evaluate(headers: HeaderMap, ctx: HeaderFormatterContext): void {
    const removes = this.headersToRemove;
    for (let i = 0; i < removes.length; i++) headers.remove(removes[i]!);

    const adds = this.headersToAdd;
    const n = adds.length;
    if (n === 0) return;
    const values = this.scratchValues;
    const kinds = this.scratchKinds; // 0 skip, 1 append, 2 overwrite
    let overwrites = 0;
    for (let i = 0; i < n; i++) {
      const h = adds[i]!;
      const value = h.literal ?? h.formatter!.format(ctx);
      kinds[i] = 0;
      if (value.length === 0 && !h.keepEmptyValue) continue;
      switch (h.action) {
        case AppendAction.AppendIfExistsOrAdd:
          kinds[i] = 1;
          break;
        case AppendAction.AddIfAbsent:
          if (!headers.has(h.key)) kinds[i] = 1;
          break;
        case AppendAction.OverwriteIfExists:
          if (headers.has(h.key)) { kinds[i] = 2; overwrites++; }
          break;
        case AppendAction.OverwriteIfExistsOrAdd:
          kinds[i] = 2;
          overwrites++;
          break;
      }
      values[i] = value;
    }
    if (overwrites > 0) {
      for (let i = 0; i < n; i++) if (kinds[i] === 2) headers.set(adds[i]!.key, values[i]!);
    }
    for (let i = 0; i < n; i++) {
      if (kinds[i] === 1) headers.add(adds[i]!.key, values[i]!);
      values[i] = '';
    }
  }

  /** Whether any value needs a formatter context (else a context is never read). */
  get needsContext(): boolean {
    return this.hasFormatter;
  }
}

/**
 * The header parsers of one route, in application order. Envoy
 * (`RouteEntryImplBase::finalizeRequestHeaders` / `getHeaderParsers` in
 * `source/common/router/config_impl.cc`) evaluates the levels one after the
 * other and "later evaluated header parser wins":
 *
 * - by default (`most_specific_header_mutations_wins: false`) the order is
 *   route, then virtual host, then route configuration — the most GENERAL level
 *   is applied last, so on an overwrite the route-configuration value wins, and
 *   appended values come out route value first;
 * - with `most_specific_header_mutations_wins: true` the order is route
 *   configuration, virtual host, route — the route level wins.
 *
 * A weighted cluster's own lists are applied before all of these (Envoy's
 * `WeightedClusterEntry::finalizeRequestHeaders`), in both modes.
 */
export class HeaderMutationChain {
  private readonly request: readonly HeaderParser[];
  private readonly response: readonly HeaderParser[];

  /** Parsers are given most specific first; nulls are skipped. */
  constructor(
    requestParsers: ReadonlyArray<HeaderParser | null>,
    responseParsers: ReadonlyArray<HeaderParser | null>,
    mostSpecificWins: boolean,
  ) {
    const order = (ps: ReadonlyArray<HeaderParser | null>) => {
      const list = ps.filter((p): p is HeaderParser => p !== null);
      return mostSpecificWins ? list.reverse() : list;
    };
    this.request = order(requestParsers);
    this.response = order(responseParsers);
  }

  get empty(): boolean {
    return this.request.length === 0 && this.response.length === 0;
  }

  finalizeRequestHeaders(headers: HeaderMap, streamInfo: StreamInfo): void {
    const ps = this.request;
    if (ps.length === 0) return;
    const ctx: HeaderFormatterContext = { requestHeaders: headers, responseHeaders: null, streamInfo };
    for (let i = 0; i < ps.length; i++) ps[i]!.evaluate(headers, ctx);
  }

  finalizeResponseHeaders(headers: HeaderMap, streamInfo: StreamInfo, requestHeaders?: HeaderMap | null): void {
    const ps = this.response;
    if (ps.length === 0) return;
    const ctx: HeaderFormatterContext = { requestHeaders: requestHeaders ?? null, responseHeaders: headers, streamInfo };
    for (let i = 0; i < ps.length; i++) ps[i]!.evaluate(headers, ctx);
  }
}

export const EMPTY_MUTATIONS = new HeaderMutationChain([], [], false);
