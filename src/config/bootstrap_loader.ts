/**
 * Loads the bootstrap: the counterpart of Envoy's
 * `InstanceUtil::loadBootstrapConfig`. Reads `-c <file>` (YAML or JSON, by
 * extension) and/or `--config-yaml`, merges the latter over the former with
 * proto MergeFrom semantics, and returns a typed v3 `Bootstrap` plus the
 * warnings collected on the way.
 *
 *   text ─ parseYamlSource ─▶ JSON + positions ─ ProtoJsonChecker (v2 shims,
 *   unknown fields, JSON types, enums, Durations, "@type") ─▶ MessageMerger
 *   (--config-yaml) ─▶ fromJson ─▶ PGV validation ─▶ Bootstrap
 *
 * Every error is a ConfigError with file, line, column and field path.
 */
import { readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { fromJson } from '@bufbuild/protobuf';
import type { Bootstrap } from '../generated/envoy/config/bootstrap/v3/bootstrap_pb.js';
import { ConfigError, type ConfigWarning } from './config_error.js';
import { MessageMerger } from './message_merge.js';
import { collectViolations } from './pgv_validator.js';
import { ProtoJsonChecker } from './proto_json_checker.js';
import { SourcePositions, type JsonObject, type JsonValue } from './source_positions.js';
import { messageSchema, typeRegistry } from './type_registry.js';
import { parseYamlSource } from './yaml_source.js';

export const BOOTSTRAP_TYPE = 'envoy.config.bootstrap.v3.Bootstrap';
/** The file name used in positions for `--config-yaml` text. */
export const CONFIG_YAML_SOURCE = '--config-yaml';

export interface LoadBootstrapOptions {
  /** `-c` / `--config-path`: a `.yaml`/`.yml` or `.json` file. */
  readonly configPath?: string;
  /** `--config-yaml`: YAML merged over the file (or the whole config when there is no file). */
  readonly configYaml?: string;
  /** `--allow-unknown-static-fields`: unknown fields warn and are ignored instead of failing. */
  readonly allowUnknownStaticFields?: boolean;
}

export interface BootstrapLoadTimings {
  /** Loading the descriptor set (0 when it was already loaded). */
  readonly registryMs: number;
  readonly parseMs: number;
  readonly checkMs: number;
  readonly fromJsonMs: number;
  readonly validateMs: number;
}

export interface LoadedBootstrap {
  readonly bootstrap: Bootstrap;
  readonly warnings: ConfigWarning[];
  /** The bootstrap's folder (cwd for --config-yaml only): where relative paths in config resolve from. */
  readonly configDir: string;
  /** Wall time of the whole load, including the descriptor set on first use. */
  readonly loadMs: number;
  readonly timings: BootstrapLoadTimings;
  /** The merged config as canonical proto3 JSON (proto field names, v2 forms rewritten). */
  readonly sourceJson: JsonObject;
  /** Field path → source position, for errors found later (e.g. by extension factories). */
  readonly positions: SourcePositions;
}

interface Doc {
  readonly value: JsonValue;
  readonly file: string;
}

function readConfigFile(configPath: string): Doc & { warnings: ConfigWarning[] } {
  const ext = extname(configPath).toLowerCase();
  if (ext === '.pb' || ext === '.pb_text') {
    throw new ConfigError('', `${ext} bootstrap files are not supported; write the bootstrap as YAML or JSON`, { file: configPath });
  }
  let text: string;
  try {
    text = readFileSync(configPath, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ConfigError('', `cannot read the config file: ${err.code === 'ENOENT' ? 'no such file' : err.message}`, {
      file: configPath,
    });
  }
  // YAML is a superset of JSON, so one parser reads both and gives positions for both.
  const parsed = parseYamlSource(text, configPath);
  if (parsed.value === null) throw new ConfigError('', 'the config file is empty', { file: configPath });
  return { value: parsed.value, file: configPath, warnings: parsed.warnings };
}

export function loadBootstrap(options: LoadBootstrapOptions): LoadedBootstrap {
  const start = performance.now();
  const registryStart = performance.now();
  const registry = typeRegistry();
  const schema = messageSchema(BOOTSTRAP_TYPE);
  const registryMs = performance.now() - registryStart;

  const warnings: ConfigWarning[] = [];
  const docs: Doc[] = [];
  const parseStart = performance.now();
  if (options.configPath !== undefined && options.configPath !== '') {
    const doc = readConfigFile(options.configPath);
    warnings.push(...doc.warnings);
    docs.push(doc);
  }
  if (options.configYaml !== undefined && options.configYaml.trim() !== '') {
    const parsed = parseYamlSource(options.configYaml, CONFIG_YAML_SOURCE);
    warnings.push(...parsed.warnings);
    if (parsed.value !== null) docs.push({ value: parsed.value, file: CONFIG_YAML_SOURCE });
  }
  if (docs.length === 0) {
    throw new ConfigError('', 'no bootstrap given: pass a config file (-c <path>) and/or --config-yaml');
  }
  const parseMs = performance.now() - parseStart;

  const checkStart = performance.now();
  const errors: ConfigError[] = [];
  for (const doc of docs) {
    const checker = new ProtoJsonChecker(registry, doc.file, {
      allowUnknownFields: options.allowUnknownStaticFields === true,
    });
    checker.check(doc.value, schema);
    errors.push(...checker.errors);
    warnings.push(...checker.warnings);
  }
  if (errors.length > 0) throw ConfigError.combine(errors);
  const [base, override] = docs as [Doc, Doc | undefined];
  const merged = base.value as JsonObject;
  if (override !== undefined) {
    const merger = new MessageMerger();
    merger.merge(merged, override.value as JsonObject, schema);
    warnings.push(...merger.warnings);
  }
  const checkMs = performance.now() - checkStart;

  const fromJsonStart = performance.now();
  let bootstrap: Bootstrap;
  try {
    bootstrap = fromJson(schema, merged, { registry }) as unknown as Bootstrap;
  } catch (e) {
    // The checker should have caught everything fromJson rejects; this is the backstop.
    throw new ConfigError('', `cannot parse the bootstrap: ${(e as Error).message}`, { file: base.file });
  }
  const fromJsonMs = performance.now() - fromJsonStart;

  const validateStart = performance.now();
  const positions = new SourcePositions(merged);
  const violations = collectViolations(bootstrap, '', positions);
  if (violations.length > 0) throw ConfigError.combine(violations);
  const validateMs = performance.now() - validateStart;

  const configDir =
    options.configPath !== undefined && options.configPath !== '' ? dirname(resolve(options.configPath)) : process.cwd();
  return {
    bootstrap,
    warnings,
    configDir,
    loadMs: performance.now() - start,
    timings: { registryMs, parseMs, checkMs, fromJsonMs, validateMs },
    sourceJson: merged,
    positions,
  };
}
