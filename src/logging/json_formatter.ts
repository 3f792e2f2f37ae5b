/**
 * Structured (JSON) access-log formats and SubstitutionFormatString, after
 * Envoy's StructFormatter / JsonFormatterImpl and SubstitutionFormatStringUtils.
 *
 * A `json_format` is a Struct (a plain JSON object, possibly nested, with
 * lists). Each string value is compiled as a format string. At log time:
 * - typed (`preserveTypes`, what SubstitutionFormatString.json_format and
 *   FileAccessLog.typed_json_format use): a value that is exactly one operator
 *   keeps its type — `%RESPONSE_CODE%` is a number, a missing value is `null`;
 *   anything mixed with literal text is a string;
 * - untyped (the legacy FileAccessLog.json_format): every value is a string,
 *   a missing value is `"-"`;
 * - `omitEmptyValues`: fields whose value is missing (null) are left out, and
 *   missing parts of mixed strings print as ''.
 * Numbers and booleans in the config are copied to the output as they are.
 * The line is the compact JSON object followed by '\n'. Keys keep the
 * config's order unless `sortProperties` (json_format_options.sort_properties).
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { JsonObject, JsonValue } from '@bufbuild/protobuf';
import type { SubstitutionFormatString } from '../generated/envoy/config/core/v3/substitution_format_string_pb.js';
import type { DataSource } from '../generated/envoy/config/core/v3/base_pb.js';
import { LoggingConfigError } from './errors.js';
import {
  compileFormat,
  parseFormat,
  type CommandParser,
  type Formatter,
  type FormatterContext,
  type FormatPart,
} from './substitution_formatter.js';

export interface JsonFormatOptions {
  /** Keep operator types (typed JSON). */
  readonly preserveTypes?: boolean;
  readonly omitEmptyValues?: boolean;
  readonly sortProperties?: boolean;
  readonly commandParsers?: ReadonlyArray<CommandParser>;
}

/** A compiled JSON format: `format()` gives the line, `formatObject()` the object (for gRPC/OTel sinks). */
export interface JsonFormatter extends Formatter {
  formatObject(ctx: FormatterContext): JsonObject;
}

type Node =
  | { kind: 'value'; parts: ReadonlyArray<FormatPart> }
  | { kind: 'constant'; value: JsonValue }
  | { kind: 'map'; entries: ReadonlyArray<readonly [string, Node]> }
  | { kind: 'list'; items: ReadonlyArray<Node> };

function compileNode(v: JsonValue, path: string, opts: JsonFormatOptions): Node {
  if (typeof v === 'string') return { kind: 'value', parts: parseFormat(v, opts.commandParsers) };
  if (typeof v === 'number' || typeof v === 'boolean') return { kind: 'constant', value: v };
  if (Array.isArray(v)) return { kind: 'list', items: v.map((item, i) => compileNode(item, `${path}[${i}]`, opts)) };
  if (v !== null && typeof v === 'object') {
    let keys = Object.keys(v);
    if (opts.sortProperties === true) keys = keys.sort();
    return { kind: 'map', entries: keys.map((k) => [k, compileNode(v[k]!, `${path}.${k}`, opts)] as const) };
  }
  throw new LoggingConfigError(
    `Only string values, nested structs, list values, numbers and booleans are supported in structured access log format (null at ${path})`);
}

class JsonFormatterImpl implements JsonFormatter {
  private readonly root: Node;
  private readonly typed: boolean;
  private readonly omitEmpty: boolean;

  constructor(format: JsonObject, opts: JsonFormatOptions) {
    this.typed = opts.preserveTypes === true;
    this.omitEmpty = opts.omitEmptyValues === true;
    this.root = compileNode(format, 'json_format', opts);
  }

  format(ctx: FormatterContext): string {
    return `${JSON.stringify(this.formatObject(ctx))}\n`;
  }

  formatObject(ctx: FormatterContext): JsonObject {
    return this.evaluate(this.root, ctx) as JsonObject;
  }

  private evaluate(node: Node, ctx: FormatterContext): JsonValue {
    switch (node.kind) {
      case 'constant':
        return node.value;
      case 'value':
        return this.evaluateValue(node.parts, ctx);
      case 'map': {
        const out: JsonObject = {};
        for (const [k, child] of node.entries) {
          const v = this.evaluate(child, ctx);
          if (v === null && this.omitEmpty) continue;
          out[k] = v;
        }
        return out;
      }
      case 'list': {
        const out: JsonValue[] = [];
        for (const child of node.items) {
          const v = this.evaluate(child, ctx);
          if (v === null && this.omitEmpty) continue;
          out.push(v);
        }
        return out;
      }
    }
  }

  private evaluateValue(parts: ReadonlyArray<FormatPart>, ctx: FormatterContext): JsonValue {
    if (parts.length === 0) return '';
    if (parts.length === 1) {
      const p = parts[0]!;
      if (typeof p === 'string') return p;
      if (this.typed) return p.formatValue(ctx);
      const s = p.format(ctx);
      if (s === null) return this.omitEmpty ? null : '-';
      return s;
    }
    // Several parts always make a string.
    const empty = this.omitEmpty ? '' : '-';
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : p.format(ctx) ?? empty;
    return out;
  }
}

/** Compiles a structured format (Envoy's createJsonFormatter). */
export function compileJsonFormat(format: JsonObject, opts: JsonFormatOptions = {}): JsonFormatter {
  return new JsonFormatterImpl(format, opts);
}

// ---------------------------------------------------------------------------
// SubstitutionFormatString

/** Formatter extensions whose operators Legate has built in; configuring them is accepted and changes nothing. */
const BUILT_IN_FORMATTER_EXTENSIONS = new Set([
  'envoy.formatter.req_without_query',
  'envoy.extensions.formatter.req_without_query.v3.ReqWithoutQuery',
]);

export interface SubstitutionFormatStringOptions {
  /** Folder that relative `text_format_source.filename` paths are read from. */
  readonly configDir?: string;
  /** Used when the config sets no format at all (e.g. the default access-log format). */
  readonly defaultFormat?: () => Formatter;
  readonly commandParsers?: ReadonlyArray<CommandParser>;
}

export interface CompiledSubstitutionFormatString {
  readonly formatter: Formatter;
  /** `content_type`, or Envoy's default: `text/plain` for text, `application/json` for JSON. */
  readonly contentType: string;
}

/** Reads a DataSource at config time (inline string/bytes, file, environment variable). */
export function readDataSource(source: DataSource, configDir?: string): string {
  const spec = source.specifier;
  switch (spec.case) {
    case 'inlineString':
      return spec.value;
    case 'inlineBytes':
      return Buffer.from(spec.value).toString('utf8');
    case 'filename': {
      const file = configDir !== undefined && !isAbsolute(spec.value) ? resolve(configDir, spec.value) : spec.value;
      try {
        return readFileSync(file, 'utf8');
      } catch (e) {
        throw new LoggingConfigError(`unable to read file: ${file}: ${(e as Error).message}`);
      }
    }
    case 'environmentVariable': {
      const v = process.env[spec.value];
      if (v === undefined) throw new LoggingConfigError(`Environment variable doesn't exist: ${spec.value}`);
      return v;
    }
    default:
      throw new LoggingConfigError('DataSource has no specifier');
  }
}

/**
 * Compiles a SubstitutionFormatString (`text_format`, `text_format_source`
 * or `json_format`, with `omit_empty_values`, `content_type`,
 * `json_format_options`). `formatters` extensions other than the built-in
 * ones are rejected with an error naming them.
 */
export function compileSubstitutionFormatString(config: SubstitutionFormatString,
                                                opts: SubstitutionFormatStringOptions = {}): CompiledSubstitutionFormatString {
  for (const ext of config.formatters) {
    const typeName = ext.typedConfig?.typeUrl.slice(ext.typedConfig.typeUrl.lastIndexOf('/') + 1) ?? '';
    if (!BUILT_IN_FORMATTER_EXTENSIONS.has(ext.name) && !BUILT_IN_FORMATTER_EXTENSIONS.has(typeName)) {
      throw new LoggingConfigError(
        `formatter extension '${ext.name || typeName}' is not supported by Legate (only the built-in operators are)`,
        'LEGATE_ERR_UNSUPPORTED_FORMATTER');
    }
  }
  const omitEmptyValues = config.omitEmptyValues;
  const parserOpts = { omitEmptyValues, commandParsers: opts.commandParsers };
  const f = config.format;
  switch (f.case) {
    case 'textFormat':
      return { formatter: compileFormat(f.value, parserOpts), contentType: config.contentType || 'text/plain' };
    case 'textFormatSource':
      return {
        formatter: compileFormat(readDataSource(f.value, opts.configDir), parserOpts),
        contentType: config.contentType || 'text/plain',
      };
    case 'jsonFormat':
      return {
        formatter: compileJsonFormat(f.value, {
          preserveTypes: true,
          omitEmptyValues,
          sortProperties: config.jsonFormatOptions?.sortProperties === true,
          commandParsers: opts.commandParsers,
        }),
        contentType: config.contentType || 'application/json',
      };
    default:
      if (opts.defaultFormat !== undefined) {
        return { formatter: opts.defaultFormat(), contentType: config.contentType || 'text/plain' };
      }
      throw new LoggingConfigError('SubstitutionFormatString: one of text_format, text_format_source or json_format is required');
  }
}
