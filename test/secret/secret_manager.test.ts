/**
 * SecretManagerImpl's SDS providers on their own: sharing by (kind, config
 * source, name), release stopping the subscription, a subscription factory
 * handed over later, generic secrets, and the readiness promises.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { InMemorySubscriptionFactory } from '../support/in_memory_subscriptions.js';
import { ConfigUpdateFailureReason, TypeUrl } from '../../src/envoy/config/subscription.js';
import type { ConfigSource } from '../../src/generated/envoy/config/core/v3/config_source_pb.js';
import type { Secret } from '../../src/generated/envoy/extensions/transport_sockets/tls/v3/secret_pb.js';
import { messageSchema } from '../../src/config/type_registry.js';
import { SecretManagerImpl } from '../../src/secret/secret_manager_impl.js';
import { StatsStore } from '../../src/stats/stats_impl.js';

const source = (init: Record<string, unknown>): ConfigSource =>
  create(messageSchema('envoy.config.core.v3.ConfigSource'), init as never) as unknown as ConfigSource;
const ADS = source({ configSourceSpecifier: { case: 'ads', value: {} } });
const FILE = source({ configSourceSpecifier: { case: 'path', value: '/etc/sds.yaml' } });
const secret = (init: Record<string, unknown>): Secret =>
  create(messageSchema('envoy.extensions.transport_sockets.tls.v3.Secret'), init as never) as unknown as Secret;
const generic = (name: string, value: string) => secret({ name, type: { case: 'genericSecret', value: { secret: { specifier: { case: 'inlineString', value } } } } });
const tick = () => new Promise((r) => setImmediate(r));

it('shares one provider per (kind, config source, name); the last release stops its subscription', async () => {
  const xds = new InMemorySubscriptionFactory();
  const m = new SecretManagerImpl({ subscriptionFactory: xds });
  const a = m.findOrCreateTlsCertificateProvider(ADS, 'cert', 'a');
  const b = m.findOrCreateTlsCertificateProvider(source({ configSourceSpecifier: { case: 'ads', value: {} } }), 'cert', 'b');
  assert.equal(a, b);
  const other = m.findOrCreateTlsCertificateProvider(FILE, 'cert', 'c');
  const ca = m.findOrCreateCertificateValidationContextProvider(ADS, 'cert', 'd');
  assert.notEqual(other, a);
  assert.notEqual(ca as unknown, a as unknown);
  assert.equal(xds.subscriptions.length, 3);
  await tick();
  assert.deepEqual(xds.subscriptions.map((s) => [s.started, s.names, s.path]), [
    [true, ['cert'], 'a.sds_config'], [true, ['cert'], 'c.sds_config'], [true, ['cert'], 'd.sds_config'],
  ]);
  a.release();
  assert.equal(xds.subscriptions[0]!.stopped, false, 'b still holds it');
  b.release();
  assert.equal(xds.subscriptions[0]!.stopped, true);
  assert.equal(m.dynamicSecretProviders().length, 2);
  // Asked again: a fresh provider with its own subscription.
  m.findOrCreateTlsCertificateProvider(ADS, 'cert', 'e');
  assert.equal(xds.subscriptions.length, 4);
});

it('providers created before the subscription factory wait, then start; without one an sds_config is a config error', async () => {
  const xds = new InMemorySubscriptionFactory();
  const m = new SecretManagerImpl({ awaitSubscriptionFactory: true });
  const p = m.findOrCreateGenericSecretProvider(ADS, 'token', 'x');
  const dropped = m.findOrCreateGenericSecretProvider(ADS, 'dropped', 'y');
  dropped.release();
  assert.equal(xds.subscriptions.length, 0);
  m.setSubscriptionFactory(xds);
  await tick();
  assert.deepEqual(xds.subscriptions.map((s) => s.names), [['token']], 'a released provider never subscribes');
  assert.equal(p.isReady(), false);
  assert.deepEqual(xds.push(TypeUrl.Secret, [{ name: 'token', version: '1', resource: generic('token', 's3cret') }]), []);
  assert.equal(p.isReady(), true);
  await p.ready;
  assert.equal(p.secret()?.secret?.specifier.value, 's3cret');

  assert.throws(() => new SecretManagerImpl().findOrCreateTlsCertificateProvider(ADS, 'cert', 'listeners[0].tls'),
    /^ConfigError: listeners\[0\]\.tls\.sds_config: sds_config needs dynamic_resources/);
});

it('generic secrets: a wrong type or an unreadable file is rejected and the previous one kept; updates reach the callbacks', async () => {
  const xds = new InMemorySubscriptionFactory();
  const stats = new StatsStore();
  const m = new SecretManagerImpl({ subscriptionFactory: xds, scope: stats.rootScope });
  const p = m.findOrCreateGenericSecretProvider(ADS, 'token', 'x');
  await tick();
  assert.equal(xds.subscriptions[0]!.scope.prefix, 'sds.token.');
  let updates = 0;
  const seen: string[] = [];
  p.addUpdateCallback(() => updates++);
  const remove = p.addValidationCallback((g) => { seen.push(String(g.secret?.specifier.value)); if (g.secret?.specifier.value === 'veto') throw new Error('vetoed by a user'); });
  assert.deepEqual(xds.push(TypeUrl.Secret, [{ name: 'token', version: '1', resource: generic('token', 'one') }]), []);
  const wrong = xds.push(TypeUrl.Secret, [{ name: 'token', version: '2', resource: secret({ name: 'token', type: { case: 'validationContext', value: {} } }) }]);
  assert.equal(wrong[0]?.message, "Secret 'token'.generic_secret: is missing: the secret holds a validation_context, but it is used as a generic_secret");
  const missing = xds.push(TypeUrl.Secret, [{ name: 'token', version: '3', resource: secret({ name: 'token', type: { case: 'genericSecret', value: { secret: { specifier: { case: 'filename', value: '/nonexistent/token' } } } } }) }]);
  assert.match(missing[0]?.message ?? '', /^Secret 'token'\.generic_secret\.secret\.filename: cannot read \/nonexistent\/token/);
  const vetoed = xds.push(TypeUrl.Secret, [{ name: 'token', version: '4', resource: generic('token', 'veto') }]);
  assert.equal(vetoed[0]?.message, 'vetoed by a user');
  assert.equal(p.secret()?.secret?.specifier.value, 'one');
  assert.equal(updates, 1);
  remove();
  assert.deepEqual(xds.push(TypeUrl.Secret, [{ name: 'token', version: '5', resource: generic('token', 'veto') }], [], '5'), [], 'the removed callback no longer vetoes');
  assert.deepEqual(seen, ['one', 'veto']);
  assert.equal(updates, 2);
  assert.equal(p.versionInfo, '5');
});

it('initialized: resolves on a fetch timeout or rejection, not on a connection failure; ready only with a secret', async () => {
  const xds = new InMemorySubscriptionFactory();
  const m = new SecretManagerImpl({ subscriptionFactory: xds });
  const p = m.findOrCreateCertificateValidationContextProvider(ADS, 'ca', 'x');
  await tick();
  let initialized = false;
  let ready = false;
  void p.initialized.then(() => { initialized = true; });
  void p.ready.then(() => { ready = true; });
  xds.fail(TypeUrl.Secret, ConfigUpdateFailureReason.ConnectionFailure);
  await tick();
  assert.equal(initialized, false);
  xds.fail(TypeUrl.Secret, ConfigUpdateFailureReason.UpdateRejected);
  await tick();
  assert.equal(initialized, true);
  assert.equal(ready, false);
  assert.equal(p.isReady(), false);
});
