/**
 * FilesystemSubscription: xDS resources from a file, after Envoy's
 * `FilesystemSubscriptionImpl` (config source `path`, or `path_config_source`
 * with an optional `watched_directory`). The file holds a DiscoveryResponse
 * in YAML or JSON (`version_info`, `resources` each with `"@type"`); every
 * read is the whole state of the type.
 *
 * The file is read at start and again whenever it is replaced: Envoy's
 * recommended update is an atomic rename (`mv`) into place, which fs.watch
 * reports on the directory. With `watched_directory`, any move in that
 * directory triggers a reload (the Kubernetes ConfigMap symlink swap).
 * A file that does not parse or validate is rejected with its file:line and
 * the last good resources keep serving.
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fromJson, type Message } from '@bufbuild/protobuf';
import type { Subscription } from '../envoy/config/subscription.js';
import type { DiscoveryResponse } from '../generated/envoy/service/discovery/v3/discovery_pb.js';
import { getLogger } from '../common/logger.js';
import { ConfigError } from '../config/config_error.js';
import { collectViolations } from '../config/pgv_validator.js';
import { ProtoJsonChecker } from '../config/proto_json_checker.js';
import { SourcePositions } from '../config/source_positions.js';
import { messageSchema, typeRegistry } from '../config/type_registry.js';
import { parseYamlSource } from '../config/yaml_source.js';
import type { XdsSubscription } from './subscription_impl.js';
import { decodeResource, typeShortName } from './xds_resource.js';

const log = getLogger('config');
const DISCOVERY_RESPONSE = 'envoy.service.discovery.v3.DiscoveryResponse';
/** Replacements often come as several events (write, rename): wait for them to settle. */
const DEBOUNCE_MS = 20;

export class FilesystemSubscription<T extends Message = Message> implements Subscription {
  private watcher: FSWatcher | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private lastText: string | null = null;
  private readonly path: string;

  constructor(path: string, private readonly watchedDirectory: string | null, readonly state: XdsSubscription<T>) {
    this.path = resolve(path);
    state.isFileBased = true;
  }

  start(resourceNames: ReadonlyArray<string>): void {
    this.state.start(resourceNames);
    const dir = this.watchedDirectory ?? dirname(this.path);
    const file = basename(this.path);
    try {
      this.watcher = watch(dir, (_event, name) => {
        if (this.watchedDirectory === null && name !== null && name !== file) return;
        this.scheduleReload();
      });
      this.watcher.on('error', (e) => log.warn(`xDS file ${this.path}: watch failed: ${e.message}`));
      this.watcher.unref();
    } catch (e) {
      log.warn(`xDS file ${this.path}: cannot watch ${dir}: ${(e as Error).message}`);
    }
    this.reload();
  }

  updateResourceInterest(resourceNames: ReadonlyArray<string>): void {
    this.state.names = new Set(resourceNames);
    this.lastText = null; // deliver again with the new interest
    this.reload();
  }

  stop(): void {
    this.state.stop();
    this.watcher?.close();
    this.watcher = null;
    if (this.debounce !== null) clearTimeout(this.debounce);
  }

  private scheduleReload(): void {
    if (this.debounce !== null) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = null;
      this.reload();
    }, DEBOUNCE_MS);
    this.debounce.unref();
  }

  private reload(): void {
    if (this.state.stopped) return;
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      log.warn(`xDS file ${this.path}: cannot read: ${(e as Error).message}`);
      this.state.connectionFailure(e as Error);
      return;
    }
    if (text === this.lastText) return;
    this.lastText = text;
    let resp: DiscoveryResponse;
    let resources;
    try {
      resp = parseDiscoveryResponse(text, this.path);
      resources = resp.resources.map((any, i) => {
        const { name, message } = decodeResource(any, this.state.typeUrl, `${this.path}: resources[${i}]`);
        return { name, version: resp.versionInfo, resource: message as T };
      });
      const seen = new Set<string>();
      for (const r of resources) {
        if (seen.has(r.name)) throw new ConfigError(this.path, `duplicate ${typeShortName(this.state.typeUrl)} '${r.name}'`);
        seen.add(r.name);
      }
    } catch (e) {
      this.state.rejectUndecodable();
      log.warn(`xDS file rejected, keeping the last good config: ${(e as Error).message}`);
      return;
    }
    const error = this.state.deliverStateOfTheWorld(resources, resp.versionInfo);
    if (error !== null) log.warn(`xDS file ${this.path} rejected, keeping the last good config: ${error}`);
  }
}

/** Parses a DiscoveryResponse from YAML or JSON text; errors carry file:line:column. */
export function parseDiscoveryResponse(text: string, file: string): DiscoveryResponse {
  const registry = typeRegistry();
  const schema = messageSchema(DISCOVERY_RESPONSE);
  const parsed = parseYamlSource(text, file);
  if (parsed.value === null) throw new ConfigError('', 'the file is empty', { file });
  const checker = new ProtoJsonChecker(registry, file, {});
  checker.check(parsed.value, schema);
  if (checker.errors.length > 0) throw ConfigError.combine(checker.errors);
  let resp: DiscoveryResponse;
  try {
    resp = fromJson(schema, parsed.value, { registry }) as unknown as DiscoveryResponse;
  } catch (e) {
    throw new ConfigError('', `cannot parse a DiscoveryResponse: ${(e as Error).message}`, { file });
  }
  const violations = collectViolations(resp as unknown as Message, '', new SourcePositions(parsed.value));
  if (violations.length > 0) throw ConfigError.combine(violations);
  return resp;
}
