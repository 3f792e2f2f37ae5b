/**
 * Parses a YAML (or JSON) config text into plain JSON values with source
 * positions (see source_positions.ts), the way Envoy's
 * `MessageUtil::loadFromYaml` turns YAML into JSON before proto parsing:
 *
 * - YAML 1.2 core schema, so `yes`/`on` stay strings (as with yaml-cpp);
 * - anchors and aliases are expanded; `<<` merge keys are honoured;
 * - a key or value tagged `!ignore` is dropped (Envoy's convention for
 *   holding anchors that are not config);
 * - integers too large for a double keep their digits (as a string, which
 *   proto3 JSON accepts for 64-bit fields);
 * - like yaml-cpp, a flow collection may close left of its key (see
 *   indentClosingBrackets), with a warning.
 */
import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  type Document,
  type YAMLError,
  type Node as YamlNode,
} from 'yaml';
import { ConfigError, ConfigWarning, type SourcePosition } from './config_error.js';
import { locate, locationOf, type JsonObject, type JsonValue } from './source_positions.js';

export interface ParsedSource {
  readonly value: JsonValue;
  readonly warnings: ConfigWarning[];
}

/** Guards against alias bombs ("billion laughs"). */
const MAX_ALIAS_EXPANSIONS = 10_000;

class Converter {
  aliasExpansions = 0;
  constructor(
    readonly file: string,
    readonly lc: LineCounter,
    readonly doc: Document.Parsed,
  ) {}

  pos(offset: number | undefined): SourcePosition {
    const { line, col } = this.lc.linePos(offset ?? 0);
    return { file: this.file, line, column: col };
  }

  startOf(node: YamlNode | null | undefined): SourcePosition | undefined {
    return node?.range ? this.pos(node.range[0]) : undefined;
  }

  convert(node: unknown): JsonValue {
    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
      if (++this.aliasExpansions > MAX_ALIAS_EXPANSIONS) {
        throw new ConfigError('', `too many YAML alias expansions (more than ${MAX_ALIAS_EXPANSIONS})`, this.startOf(node));
      }
      const target = node.resolve(this.doc);
      if (target === undefined) {
        throw new ConfigError('', `YAML alias *${node.source} has no anchor`, this.startOf(node));
      }
      return this.convert(target);
    }
    if (isScalar(node)) {
      const v = node.value;
      if (typeof v === 'number') {
        // 2^53 and above lose digits as doubles; keep the text for int64 fields.
        if (Number.isInteger(v) && !Number.isSafeInteger(v) && node.source !== undefined && /^[-+]?\d+$/.test(node.source)) {
          return node.source.replace(/^\+/, '');
        }
        return v;
      }
      if (typeof v === 'bigint') return v.toString();
      if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
      // Other tagged scalars (e.g. !!binary gives a Uint8Array): use the source text.
      return node.source ?? String(v);
    }
    if (isSeq(node)) {
      const arr = locate([] as JsonValue[], this.startOf(node));
      const loc = locationOf(arr);
      for (const item of node.items) {
        if (isScalar(item) || isMap(item) || isSeq(item) || isAlias(item)) {
          if ((item as YamlNode).tag === '!ignore') continue;
        }
        const p = this.startOf(item as YamlNode);
        if (p !== undefined) loc?.values.set(arr.length, p);
        arr.push(this.convert(item));
      }
      return arr;
    }
    if (isMap(node)) {
      const obj = locate({} as JsonObject, this.startOf(node));
      const loc = locationOf(obj);
      const merges: unknown[] = [];
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const keyNode = pair.key as YamlNode | null;
        const valueNode = pair.value as YamlNode | null;
        if (keyNode?.tag === '!ignore' || valueNode?.tag === '!ignore') continue;
        if (isScalar(keyNode) && (typeof keyNode.value === 'symbol' || keyNode.source === '<<')) {
          merges.push(valueNode);
          continue;
        }
        let key: string;
        if (keyNode === null) key = '';
        else if (isScalar(keyNode)) key = keyNode.value === null ? '' : String(keyNode.value);
        else {
          throw new ConfigError('', 'YAML mapping keys must be scalars', this.startOf(keyNode));
        }
        const keyPos = this.startOf(keyNode) ?? loc?.self;
        const valuePos =
          valueNode !== null && valueNode.range
            ? this.pos(valueNode.range[0])
            : keyNode?.range
              ? this.pos(keyNode.range[1])
              : keyPos;
        obj[key] = this.convert(valueNode);
        if (loc !== undefined && keyPos !== undefined) loc.keys.set(key, keyPos);
        if (loc !== undefined && valuePos !== undefined) loc.values.set(key, valuePos);
      }
      // `<<: *base` (or a list of them): keys written in this mapping win.
      for (const m of merges) {
        const sources = isSeq(m) ? m.items : [m];
        for (const s of sources) {
          const merged = this.convert(s);
          if (typeof merged !== 'object' || merged === null || Array.isArray(merged)) {
            throw new ConfigError('', 'a YAML merge key (<<) must refer to a mapping', this.startOf(s as YamlNode));
          }
          const mloc = locationOf(merged);
          for (const [k, v] of Object.entries(merged)) {
            if (k in obj) continue;
            obj[k] = v;
            const kp = mloc?.keys.get(k);
            const vp = mloc?.values.get(k);
            if (loc !== undefined && kp !== undefined) loc.keys.set(k, kp);
            if (loc !== undefined && vp !== undefined) loc.values.set(k, vp);
          }
        }
      }
      return obj;
    }
    throw new ConfigError('', 'unsupported YAML node', this.startOf(node as YamlNode));
  }
}

/**
 * yaml-cpp (Envoy's parser) accepts a flow collection whose closing brackets
 * sit at or left of the parent key's indentation, as in
 *
 *   hosts: [{
 *     socket_address: {address: httpbin, port_value: 8000}
 *   }]
 *
 * which YAML 1.2 rejects. A line holding only closing brackets can only be
 * inside a flow collection, where extra indentation changes nothing, so we
 * indent such lines as far as the line before them and parse again.
 */
function indentClosingBrackets(text: string): string {
  const lines = text.split('\n');
  let lastIndent = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const m = line.match(/^( *)([\]}][\]}, ]*)$/);
    if (m !== null) {
      const indent = m[1]?.length ?? 0;
      if (indent < lastIndent) lines[i] = ' '.repeat(lastIndent) + line.slice(indent);
      continue;
    }
    if (line.trim() !== '' && !line.trimStart().startsWith('#')) lastIndent = line.length - line.trimStart().length;
  }
  return lines.join('\n');
}

interface YamlParse {
  readonly docs: Document.Parsed[];
  readonly lineCounter: LineCounter;
}

function parseDocs(text: string): YamlParse {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, {
    lineCounter,
    merge: true,
    prettyErrors: false,
    uniqueKeys: true,
    logLevel: 'silent',
  });
  return { docs: Array.isArray(docs) ? docs : [], lineCounter };
}

/**
 * Parses `text` (YAML, or JSON which is a subset of it). `file` is the name
 * used in positions (the path as given, or `--config-yaml`). Returns `null`
 * as the value of an empty document.
 */
export function parseYamlSource(text: string, file: string): ParsedSource {
  const warnings: ConfigWarning[] = [];
  let parsed = parseDocs(text);
  const firstError = (p: YamlParse): YAMLError | undefined => p.docs.flatMap((d) => d.errors)[0];
  const posIn = (p: YamlParse, offset: number): SourcePosition => {
    const { line, col } = p.lineCounter.linePos(offset);
    return { file, line, column: col };
  };
  let err = firstError(parsed);
  if (err !== undefined && err.code === 'BAD_INDENT' && /^Flow/.test(err.message)) {
    const retry = parseDocs(indentClosingBrackets(text));
    if (firstError(retry) === undefined) {
      warnings.push(
        new ConfigWarning(
          '',
          'a closing bracket of a flow collection is indented less than YAML allows; accepted as Envoy (yaml-cpp) does, but indent it past its parent key',
          posIn(parsed, err.pos[0]),
        ),
      );
      parsed = retry;
      err = undefined;
    }
  }
  if (err !== undefined) {
    let detail = err.message.replace(/\s+at line \d+, column \d+.*$/s, '');
    if (err.code === 'DUPLICATE_KEY') {
      const keyText = text.slice(err.pos[0]).split('\n')[0]?.replace(/:.*$/, '').trim();
      detail = `duplicate key${keyText ? ` "${keyText}"` : ''} (YAML mapping keys must be unique)`;
    }
    throw new ConfigError('', `invalid YAML: ${detail}`, posIn(parsed, err.pos[0]));
  }
  const nonEmpty = parsed.docs.filter((d) => d.contents !== null);
  if (nonEmpty.length > 1) {
    const second = nonEmpty[1];
    warnings.push(
      new ConfigWarning(
        '',
        `the file holds ${nonEmpty.length} YAML documents; only the first is used (as Envoy does)`,
        second?.contents?.range ? posIn(parsed, second.contents.range[0]) : { file },
      ),
    );
  }
  const first = nonEmpty[0];
  if (first === undefined) return { value: null, warnings };
  const value = new Converter(file, parsed.lineCounter, first).convert(first.contents);
  return { value, warnings };
}
