import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { HeaderMap } from '../../src/envoy/http/header_map.js';
import { RouteConfigError } from '../../src/router/config_error.js';
import { type HeaderValueFormatter } from '../../src/router/header_parser.js';
import { fakeFormatterFactory, headers, pairsOf, req, streamInfo, table } from './test_util.js';

/** Route config with header lists at three levels; `level` YAML snippets are inserted at each. */
function threeLevels(opts: { global?: string; vhost?: string; route?: string; extra?: string }) {
  const indent = (s: string | undefined, n: number) => (s ?? '').split('\n').map((l) => ' '.repeat(n) + l).join('\n');
  return table(`
name: rc
${opts.extra ?? ''}
${indent(opts.global, 0)}
virtual_hosts:
- name: vh
  domains: ["*"]
${indent(opts.vhost, 2)}
  routes:
  - match: {prefix: /}
    route: {cluster: c}
${indent(opts.route, 4)}
`);
}

function applyRequest(t: ReturnType<typeof table>, h: HeaderMap = req('h', '/')): HeaderMap {
  const r = t.route(h, streamInfo(), 0)!;
  r.routeEntry!.finalizeRequestHeaders(h, streamInfo());
  return h;
}

const add = (key: string, value: string, more = '') => `{header: {key: ${key}, value: "${value}"}${more}}`;

describe('header mutation order across levels', () => {
  const lists = {
    global: `request_headers_to_add: [${add('x-level', 'global')}, ${add('x-ow', 'global', ', append_action: OVERWRITE_IF_EXISTS_OR_ADD')}]`,
    vhost: `request_headers_to_add: [${add('x-level', 'vhost')}, ${add('x-ow', 'vhost', ', append_action: OVERWRITE_IF_EXISTS_OR_ADD')}]`,
    route: `request_headers_to_add: [${add('x-level', 'route')}, ${add('x-ow', 'route', ', append_action: OVERWRITE_IF_EXISTS_OR_ADD')}]`,
  };

  it('default: route, then virtual host, then route configuration (the most general level wins an overwrite)', () => {
    const h = applyRequest(threeLevels(lists));
    assert.deepEqual(h.getAll('x-level'), ['route', 'vhost', 'global']);
    assert.deepEqual(h.getAll('x-ow'), ['global']);
  });

  it('most_specific_header_mutations_wins: route configuration, virtual host, route (the route wins)', () => {
    const h = applyRequest(threeLevels({ ...lists, extra: 'most_specific_header_mutations_wins: true' }));
    assert.deepEqual(h.getAll('x-level'), ['global', 'vhost', 'route']);
    assert.deepEqual(h.getAll('x-ow'), ['route']);
  });

  it('response lists follow the same order', () => {
    const t = threeLevels({
      global: `response_headers_to_add: [${add('x-r', 'global', ', append_action: OVERWRITE_IF_EXISTS_OR_ADD')}]`,
      route: `response_headers_to_add: [${add('x-r', 'route', ', append_action: OVERWRITE_IF_EXISTS_OR_ADD')}]`,
    });
    const resp = headers([[':status', '200']]);
    t.route(req('h', '/'), streamInfo(), 0)!.routeEntry!.finalizeResponseHeaders(resp, streamInfo());
    assert.deepEqual(resp.getAll('x-r'), ['global']);
  });

  it('a level removes before it adds; a later level can remove what an earlier one added', () => {
    const t = threeLevels({
      route: `request_headers_to_add: [${add('x-a', 'route')}]\nrequest_headers_to_remove: [x-a]`,
      vhost: 'request_headers_to_remove: [x-a]',
    });
    // route: remove x-a (incoming), add x-a=route; vhost: remove x-a.
    const h = applyRequest(t, req('h', '/', [['x-a', 'incoming']]));
    assert.equal(h.get('x-a'), undefined);
  });

  it('weighted cluster lists run before the route lists (so the route wins an overwrite)', () => {
    const t = table(`
virtual_hosts:
- name: vh
  domains: ["*"]
  routes:
  - match: {prefix: /}
    request_headers_to_add: [${add('x-w', 'route', ', append_action: OVERWRITE_IF_EXISTS_OR_ADD')}]
    route:
      weighted_clusters:
        clusters:
        - name: a
          weight: 1
          request_headers_to_add: [${add('x-w', 'cluster', ', append_action: OVERWRITE_IF_EXISTS_OR_ADD')}, ${add('x-c', 'cluster')}]`);
    const h = req('h', '/');
    const entry = t.route(h, streamInfo(), 0)!.routeEntry!;
    entry.clusterHeaderMutations(entry.clusterName(h, 0)!)!.finalizeRequestHeaders(h, streamInfo());
    entry.finalizeRequestHeaders(h, streamInfo());
    assert.deepEqual(h.getAll('x-w'), ['route']);
    assert.equal(h.get('x-c'), 'cluster');
  });
});

describe('append_action and legacy append', () => {
  const run = (option: string, incoming: Array<[string, string]>) =>
    applyRequest(threeLevels({ route: `request_headers_to_add: [${add('x-h', 'new', option)}]` }), req('h', '/', incoming)).getAll('x-h');

  const cases: Array<[string, Array<[string, string]>, string[]]> = [
    ['', [], ['new']],
    ['', [['x-h', 'old']], ['old', 'new']], // APPEND_IF_EXISTS_OR_ADD is the default
    [', append_action: APPEND_IF_EXISTS_OR_ADD', [['x-h', 'old']], ['old', 'new']],
    [', append_action: ADD_IF_ABSENT', [], ['new']],
    [', append_action: ADD_IF_ABSENT', [['x-h', 'old']], ['old']],
    [', append_action: OVERWRITE_IF_EXISTS_OR_ADD', [], ['new']],
    [', append_action: OVERWRITE_IF_EXISTS_OR_ADD', [['x-h', 'a'], ['x-h', 'b']], ['new']],
    [', append_action: OVERWRITE_IF_EXISTS', [], []],
    [', append_action: OVERWRITE_IF_EXISTS', [['x-h', 'old']], ['new']],
    [', append: true', [['x-h', 'old']], ['old', 'new']],
    [', append: false', [['x-h', 'old']], ['new']],
  ];
  for (const [option, incoming, want] of cases) {
    it(`${option || '(default)'} with ${JSON.stringify(incoming)} -> ${JSON.stringify(want)}`, () => {
      assert.deepEqual(run(option, incoming), want);
    });
  }

  it('append together with a non-default append_action is an error', () => {
    assert.throws(() => threeLevels({ route: `request_headers_to_add: [${add('x-h', 'v', ', append: true, append_action: ADD_IF_ABSENT')}]` }),
      (e: unknown) => e instanceof RouteConfigError && e.path === 'virtual_hosts[0].routes[0].request_headers_to_add[0]'
        && /Both append and append_action are set/.test(e.message));
  });

  it('ADD_IF_ABSENT and OVERWRITE_IF_EXISTS look at the headers before this level adds anything', () => {
    const t = threeLevels({
      route: `request_headers_to_add: [${add('x-h', 'first')}, ${add('x-h', 'second', ', append_action: ADD_IF_ABSENT')}, ${add('x-h', 'third', ', append_action: OVERWRITE_IF_EXISTS')}]`,
    });
    assert.deepEqual(applyRequest(t).getAll('x-h'), ['first', 'second']);
  });
});

describe('values: formatters, %% escapes, empty values', () => {
  it('%-commands go through the formatter; literals do not', () => {
    let compiled = 0;
    const counting = (f: string): HeaderValueFormatter => { compiled++; return fakeFormatterFactory(f); };
    const t = table(`
virtual_hosts:
- name: vh
  domains: ["*"]
  request_headers_to_add:
  - {header: {key: x-client, value: "%DOWNSTREAM_REMOTE_ADDRESS%"}}
  - {header: {key: x-echo, value: "id=%REQ(x-request-id)%;ua=%REQ(User-Agent)%"}}
  - {header: {key: x-literal, value: "plain"}}
  - {header: {key: x-pct, value: "100%% sure"}}
  routes: [{match: {prefix: /}, route: {cluster: c}}]`, { formatterFactory: counting });
    assert.equal(compiled, 2);
    const h = req('h', '/', [['x-request-id', 'abc'], ['user-agent', 'curl']]);
    t.route(h, streamInfo(), 0)!.routeEntry!.finalizeRequestHeaders(h, streamInfo({ downstreamRemoteAddress: '1.2.3.4:99' }));
    assert.equal(h.get('x-client'), '1.2.3.4:99');
    assert.equal(h.get('x-echo'), 'id=abc;ua=curl');
    assert.equal(h.get('x-literal'), 'plain');
    assert.equal(h.get('x-pct'), '100% sure');
  });

  it('values are formatted against the headers as they were before this level added anything', () => {
    const t = threeLevels({ route: `request_headers_to_add: [${add('x-a', 'A')}, ${add('x-b', '%REQ(x-a)%')}]` });
    const h = applyRequest(t);
    assert.equal(h.get('x-a'), 'A');
    assert.equal(h.get('x-b'), undefined); // empty value dropped
  });

  it('keep_empty_value keeps an empty result', () => {
    const t = threeLevels({ route: `request_headers_to_add: [${add('x-e', '%REQ(missing)%', ', keep_empty_value: true')}, ${add('x-f', '')}]` });
    const h = applyRequest(t);
    assert.deepEqual(h.getAll('x-e'), ['']);
    assert.equal(h.has('x-f'), false);
  });

  it('response formatting sees request headers when the router passes them', () => {
    const t = threeLevels({ route: `response_headers_to_add: [${add('x-echo', '%REQ(x-id)%')}, ${add('x-status', '%RESP(:status)%')}]` });
    const request = req('h', '/', [['x-id', '42']]);
    const resp = headers([[':status', '200']]);
    const entry = t.route(request, streamInfo(), 0)!.routeEntry as import('../../src/router/route_entry_impl.js').RouteEntryImpl;
    entry.finalizeResponseHeaders(resp, streamInfo(), request);
    assert.deepEqual(pairsOf(resp), [[':status', '200'], ['x-echo', '42'], ['x-status', '200']]);
  });

  it('a formatter error is a config error at the value', () => {
    assert.throws(() => threeLevels({ route: `request_headers_to_add: [${add('x-a', '%NOPE%')}]` }),
      (e: unknown) => e instanceof RouteConfigError && e.path === 'virtual_hosts[0].routes[0].request_headers_to_add[0].header.value'
        && /unknown command %NOPE%/.test(e.message));
  });
});

describe('forbidden headers', () => {
  for (const key of [':path', ':authority', 'host', 'Host']) {
    it(`cannot add or remove ${key}`, () => {
      assert.throws(() => threeLevels({ vhost: `request_headers_to_add: [${add(key, 'x')}]` }), /may not be modified/);
      assert.throws(() => threeLevels({ vhost: `request_headers_to_remove: ["${key}"]` }), /may not be removed/);
    });
  }
  it('names are lower-cased', () => {
    const h = applyRequest(threeLevels({ route: `request_headers_to_add: [${add('X-Upper', 'v')}]\nrequest_headers_to_remove: [X-Drop]` }),
      req('h', '/', [['x-drop', '1']]));
    assert.equal(h.get('x-upper'), 'v');
    assert.equal(h.has('x-drop'), false);
  });
});
