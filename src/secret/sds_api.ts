/**
 * SdsApi: one SDS subscription to a named Secret and the secret it last
 * accepted, after Envoy's `source/common/secret/sds_api.cc`
 * (TlsCertificateSdsApi, CertificateValidationContextSdsApi,
 * GenericSecretSdsApi are this class with a different `kind`).
 *
 * An update is taken whole or not at all:
 *   1. exactly one Secret, named as asked (Envoy's "Unexpected SDS secret");
 *   2. of the kind this provider serves (a validation_context pushed where a
 *      tls_certificate is used is rejected, naming the secret and the field);
 *   3. every user's validation callback accepts it (the TLS contexts compile
 *      the certificate / key / CA bundle; a ConfigError names the field).
 * Any failure throws: the subscription NACKs with the message, counts
 * `sds.<name>.update_rejected`, and the previous secret stays in force.
 * An unchanged secret (same proto, same file contents) is a no-op.
 *
 * A secret the control plane removes is kept, as Envoy does (SDS resources
 * are only dropped when the listener or cluster that uses them goes away).
 *
 * Material in files (`filename` data sources) is re-read when the files
 * change: the secret's `watched_directory` if set, else each file's folder.
 * A rotation whose files do not load keeps the previous material and counts
 * `sds.<name>.key_rotation_failed`.
 *
 * Readiness (for warming): `ready` when the first secret is taken;
 * `initialized` also when the first fetch times out (initial_fetch_timeout)
 * or is rejected. A connection failure does not end warming: the initial
 * fetch timeout bounds it, as with Envoy's gRPC subscriptions.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { toBinary, type Message } from '@bufbuild/protobuf';
import type { ConfigSource } from '../generated/envoy/config/core/v3/config_source_pb.js';
import type { DataSource } from '../generated/envoy/config/core/v3/base_pb.js';
import type { Secret } from '../generated/envoy/extensions/transport_sockets/tls/v3/secret_pb.js';
import type { SecretProvider } from '../envoy/secret/secret_provider.js';
import type { Counter, Scope } from '../envoy/stats/stats.js';
import {
  ConfigUpdateFailureReason,
  TypeUrl,
  type ConfigUpdate,
  type Subscription,
  type SubscriptionCallbacks,
  type SubscriptionFactory,
} from '../envoy/config/subscription.js';
import { getLogger } from '../common/logger.js';
import { ConfigError } from '../config/config_error.js';
import { messageSchema } from '../config/type_registry.js';
import { dataSourceToBuffer } from '../config/well_known.js';
import { watchDirectory } from '../config/watched_directory.js';

const log = getLogger('secret');

/** What a provider serves, by the Secret oneof field name. */
export type SecretKind = 'tls_certificate' | 'validation_context' | 'generic_secret';

const CASE_OF_KIND: Record<SecretKind, NonNullable<Secret['type']['case']>> = {
  tls_certificate: 'tlsCertificate',
  validation_context: 'validationContext',
  generic_secret: 'genericSecret',
};
const FIELD_OF_CASE: Record<string, string> = {
  tlsCertificate: 'tls_certificate',
  sessionTicketKeys: 'session_ticket_keys',
  validationContext: 'validation_context',
  genericSecret: 'generic_secret',
};

/** The files a secret's material is read from, and the folders to watch for their rotation. */
interface SecretFiles {
  readonly files: ReadonlyArray<string>;
  readonly dirs: ReadonlyArray<string>;
}

export interface SdsApiOptions {
  readonly name: string;
  readonly kind: SecretKind;
  readonly configSource: ConfigSource;
  /** `sds.<name>.`: the subscription's stats and key_rotation_failed. */
  readonly scope: Scope;
  /** Relative file names in secrets resolve against it (as static TLS config does). */
  readonly configDir: string;
  /** Called once when the last user released the provider. */
  readonly onDestroy: () => void;
}

export class SdsApi<T extends Message = Message> implements SecretProvider<T>, SubscriptionCallbacks<Secret> {
  readonly name: string;
  readonly kind: SecretKind;
  readonly configSource: ConfigSource;
  readonly ready: Promise<void>;
  readonly initialized: Promise<void>;
  /** version_info of the update that last delivered this secret ('' before). */
  versionInfo = '';
  /** When the secret was last updated (ms since epoch, 0 before). */
  lastUpdated = 0;

  private current: T | null = null;
  /** The whole Secret in force (for /config_dump). */
  private currentSecret: Secret | null = null;
  private secretHash = '';
  private files: SecretFiles = { files: [], dirs: [] };
  private filesHash = '';
  private stopWatches: Array<() => void> = [];
  private subscription: Subscription | null = null;
  private holds = 0;
  private destroyed = false;
  private readonly validationCallbacks = new Set<(candidate: T) => void>();
  private readonly updateCallbacks = new Set<() => void>();
  private readonly keyRotationFailed: Counter;
  private readonly scope: Scope;
  private readonly configDir: string;
  private readonly onDestroy: () => void;
  private markReady!: () => void;
  private markInitialized!: () => void;

  constructor(o: SdsApiOptions) {
    this.name = o.name;
    this.kind = o.kind;
    this.configSource = o.configSource;
    this.scope = o.scope;
    this.configDir = o.configDir;
    this.onDestroy = o.onDestroy;
    this.keyRotationFailed = o.scope.counter('key_rotation_failed');
    this.ready = new Promise((r) => { this.markReady = r; });
    this.initialized = new Promise((r) => { this.markInitialized = r; });
  }

  /**
   * Creates the subscription (a bad config source throws ConfigError naming
   * `path`) and starts it once the config being built is complete, so every
   * user has registered its validation callback before the first secret can
   * arrive (a file source delivers at once). Envoy starts it from the init
   * manager for the same reason.
   */
  subscribe(factory: SubscriptionFactory, path: string): void {
    this.subscription = factory.subscriptionFromConfigSource<Secret>(this.configSource, TypeUrl.Secret, this.scope, this, path);
    queueMicrotask(() => { if (!this.destroyed) this.subscription?.start([this.name]); });
  }

  /** The Secret in force, whole (null before the first). */
  secretProto(): Secret | null { return this.currentSecret; }

  secret(): T | null { return this.current; }

  isReady(): boolean { return this.current !== null; }

  addValidationCallback(cb: (candidate: T) => void): () => void {
    this.validationCallbacks.add(cb);
    return () => { this.validationCallbacks.delete(cb); };
  }

  addUpdateCallback(cb: () => void): () => void {
    this.updateCallbacks.add(cb);
    return () => { this.updateCallbacks.delete(cb); };
  }

  /** Takes one hold (the SecretManager does it for each findOrCreate*). */
  retain(): this {
    this.holds++;
    return this;
  }

  release(): void {
    if (this.destroyed || --this.holds > 0) return;
    this.destroyed = true;
    this.subscription?.stop();
    this.subscription = null;
    this.unwatchFiles();
    this.onDestroy();
  }

  onConfigUpdate(update: ConfigUpdate<Secret>): void {
    const where = `Secret '${this.name}'`;
    if (update.added.length === 0) {
      if (update.removed.includes(this.name)) {
        // Envoy ignores the removal of an SDS resource (and ACKs it): the users still need a secret.
        log.info(`SDS secret '${this.name}' was removed by the control plane; ${this.current !== null ? 'keeping the last one' : 'still waiting for one'}`);
        this.markInitialized();
      }
      return;
    }
    if (update.added.length !== 1) {
      throw new ConfigError(where, `Unexpected SDS secrets length for ${this.name}: ${update.added.length} resources (expected 1)`);
    }
    const r = update.added[0]!;
    if (r.name !== this.name) throw new ConfigError(`Secret '${r.name}'`, `Unexpected SDS secret (expecting ${this.name}): ${r.name}`);
    const secret = r.resource;
    const hash = Buffer.from(toBinary(messageSchema(secret.$typeName), secret)).toString('base64');
    const value = this.valueOf(secret);
    const files = secretFiles(value, this.kind, this.configDir);
    const filesHash = hashFiles(files.files);
    if (hash !== this.secretHash || filesHash !== this.filesHash) {
      this.validate(value);
      this.current = value;
      this.currentSecret = secret;
      this.secretHash = hash;
      this.filesHash = filesHash;
      this.watchFiles(files);
      this.lastUpdated = Date.now();
      log.info(`SDS secret '${this.name}' updated (version ${update.versionInfo})`);
      this.notifyUpdate();
    }
    this.versionInfo = update.versionInfo;
    this.markReady();
    this.markInitialized();
  }

  onConfigUpdateFailed(reason: ConfigUpdateFailureReason, error: Error | null): void {
    if (reason === ConfigUpdateFailureReason.ConnectionFailure) return;
    if (reason === ConfigUpdateFailureReason.FetchTimedout && this.current === null) {
      log.warn(`SDS secret '${this.name}': initial fetch timed out; its TLS contexts refuse connections until it arrives`);
    } else if (reason === ConfigUpdateFailureReason.UpdateRejected) {
      log.warn(`SDS secret '${this.name}': update rejected, ${this.current !== null ? 'keeping the previous secret' : 'no secret yet'}: ${error?.message ?? ''}`);
    }
    // Warming ends; the users stay not ready until a good secret comes.
    this.markInitialized();
  }

  /** The part of the Secret this provider serves; a ConfigError for another kind. */
  private valueOf(secret: Secret): T {
    const want = CASE_OF_KIND[this.kind];
    if (secret.type.case !== want) {
      const has = secret.type.case === undefined ? 'no secret at all' : `a ${FIELD_OF_CASE[secret.type.case]}`;
      throw new ConfigError(`Secret '${this.name}'.${this.kind}`, `is missing: the secret holds ${has}, but it is used as a ${this.kind}`);
    }
    const value = secret.type.value as unknown as T;
    if (this.kind === 'generic_secret') {
      dataSourceToBuffer((value as unknown as { secret?: DataSource }).secret, this.configDir, `Secret '${this.name}'.generic_secret.secret`);
    }
    return value;
  }

  private validate(candidate: T): void {
    for (const cb of this.validationCallbacks) cb(candidate);
  }

  private notifyUpdate(): void {
    for (const cb of [...this.updateCallbacks]) {
      try {
        cb();
      } catch (e) {
        // Users compile in their validation callback; a failure here is a bug, not a bad secret.
        log.error(`SDS secret '${this.name}': applying the update failed: ${(e as Error).message}`);
      }
    }
  }

  private watchFiles(files: SecretFiles): void {
    this.unwatchFiles();
    this.files = files;
    for (const dir of files.dirs) {
      this.stopWatches.push(watchDirectory(dir, this.configDir, `SDS secret '${this.name}'`, () => this.onFilesChanged()));
    }
  }

  private unwatchFiles(): void {
    for (const stop of this.stopWatches) stop();
    this.stopWatches = [];
  }

  /** A watched folder changed: re-check the files and, when they differ, have the users reload them. */
  private onFilesChanged(): boolean {
    const value = this.current;
    if (value === null || this.destroyed) return false;
    const h = hashFiles(this.files.files);
    if (h === this.filesHash) return false;
    try {
      this.validate(value);
    } catch (e) {
      this.keyRotationFailed.inc();
      throw e;
    }
    this.filesHash = h;
    this.lastUpdated = Date.now();
    this.notifyUpdate();
    return true;
  }
}

/** The files `value` reads its material from, and what to watch (Envoy: watched_directory, else each file's folder). */
function secretFiles(value: Message, kind: SecretKind, configDir: string): SecretFiles {
  const v = value as unknown as Record<string, unknown>;
  const fields = kind === 'tls_certificate' ? ['certificateChain', 'privateKey', 'password']
    : kind === 'validation_context' ? ['trustedCa', 'crl']
      : ['secret'];
  const files: string[] = [];
  for (const f of fields) {
    const ds = v[f] as DataSource | undefined;
    if (ds?.specifier.case === 'filename') files.push(isAbsolute(ds.specifier.value) ? ds.specifier.value : resolve(configDir, ds.specifier.value));
  }
  if (files.length === 0) return { files, dirs: [] };
  const watched = (v['watchedDirectory'] as { path?: string } | undefined)?.path;
  const dirs = watched !== undefined && watched !== '' ? [watched] : [...new Set(files.map((f) => dirname(f)))];
  return { files, dirs };
}

/** A digest of the files' contents ('' when there are none; an unreadable file hashes as such). */
function hashFiles(files: ReadonlyArray<string>): string {
  if (files.length === 0) return '';
  const h = createHash('sha256');
  for (const f of files) {
    h.update(f).update('\0');
    try {
      h.update(readFileSync(f));
    } catch (e) {
      h.update(`unreadable: ${(e as NodeJS.ErrnoException).code ?? ''}`);
    }
    h.update('\0');
  }
  return h.digest('hex');
}
