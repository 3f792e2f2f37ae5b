/**
 * Helpers shared by the config tests: fixture paths, loading YAML text,
 * and asserting on ConfigErrors (file, line, column, path, text).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, type ConfigWarning } from '../../src/config/config_error.js';
import { loadBootstrap, type LoadBootstrapOptions, type LoadedBootstrap } from '../../src/config/bootstrap_loader.js';

/** test/config/fixtures, found from the compiled test (dist/test/config) or the source. */
export function fixturesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'test', 'config', 'fixtures');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find test/config/fixtures');
    dir = parent;
  }
}

export function fixture(...parts: string[]): string {
  return join(fixturesDir(), ...parts);
}

let tmp: string | undefined;

/** Writes `text` to a temporary file named `name` and returns its path. */
export function writeTemp(name: string, text: string): string {
  tmp ??= mkdtempSync(join(tmpdir(), 'legate-config-test-'));
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

/** Loads YAML text as `--config-yaml` (file name `--config-yaml` in positions). */
export function loadYaml(text: string, options: Omit<LoadBootstrapOptions, 'configYaml'> = {}): LoadedBootstrap {
  return loadBootstrap({ ...options, configYaml: text });
}

export interface ExpectedError {
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  readonly fieldPath?: string;
  /** Substrings (or patterns) the message must contain. */
  readonly includes?: ReadonlyArray<string | RegExp>;
}

/** Runs `fn`, expects a ConfigError matching `expected`, and returns it. */
export function expectConfigError(fn: () => unknown, expected: ExpectedError): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${caught instanceof Error ? caught.stack : String(caught)}`);
  const e = caught;
  if (expected.file !== undefined) assert.equal(e.file, expected.file, e.message);
  if (expected.line !== undefined) assert.equal(e.line, expected.line, e.message);
  if (expected.column !== undefined) assert.equal(e.column, expected.column, e.message);
  if (expected.fieldPath !== undefined) assert.equal(e.fieldPath, expected.fieldPath, e.message);
  for (const inc of expected.includes ?? []) {
    if (typeof inc === 'string') assert.ok(e.message.includes(inc), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(inc)}`);
    else assert.match(e.message, inc);
  }
  return e;
}

/** The warning at `fieldPath` (exactly one), asserting it exists. */
export function warningAt(warnings: ReadonlyArray<ConfigWarning>, fieldPath: string, includes?: string): ConfigWarning {
  const found = warnings.filter((w) => w.fieldPath === fieldPath && (includes === undefined || w.message.includes(includes)));
  assert.equal(
    found.length,
    1,
    `expected one warning at ${fieldPath}${includes !== undefined ? ` containing ${JSON.stringify(includes)}` : ''}; got:\n${warnings.map(String).join('\n')}`,
  );
  return found[0] as ConfigWarning;
}
