import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { RouteConfigError } from '../../src/router/config_error.js';
import { RegexError } from '../../src/common/matchers/regex.js';
import { table } from './test_util.js';

function routeYaml(route: string, vhostExtra = ''): string {
  return `
name: my-routes
virtual_hosts:
- name: vh
  domains: ["*"]
${vhostExtra}
  routes:
  - ${route}`;
}

/** Expects a RouteConfigError at `path` whose message matches `re`. */
function rejects(yaml: string, path: string, re: RegExp): RouteConfigError {
  let err: unknown;
  try {
    table(yaml);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof RouteConfigError, `expected RouteConfigError, got ${String(err)}`);
  assert.equal(err.path, path);
  assert.match(err.message, re);
  assert.ok(err.message.startsWith(`${path}: `));
  return err;
}

describe('bad route configs produce errors naming the problem', () => {
  it('invalid regex in a path specifier (the pattern is in the message, the cause is a RegexError)', () => {
    const e = rejects(routeYaml('{match: {safe_regex: {regex: "/(a"}}, route: {cluster: c}}'),
      'virtual_hosts[0].routes[0].match.safe_regex.regex', /invalid regex '\/\(a': .*missing closing \)/);
    assert.ok(e.cause instanceof RegexError);
    assert.equal(e.cause.pattern, '/(a');
  });

  it('invalid regex in a header matcher, regex_rewrite and redirect', () => {
    rejects(routeYaml('{match: {prefix: /, headers: [{name: a}, {name: b, string_match: {safe_regex: {regex: "x(?!y)"}}}]}, route: {cluster: c}}'),
      'virtual_hosts[0].routes[0].match.headers[1].string_match.safe_regex.regex', /invalid regex 'x\(\?!y\)'/);
    rejects(routeYaml('{match: {prefix: /}, route: {cluster: c, regex_rewrite: {pattern: {regex: "("}, substitution: x}}}'),
      'virtual_hosts[0].routes[0].route.regex_rewrite.pattern.regex', /invalid regex '\('/);
    rejects(routeYaml('{match: {prefix: /}, route: {cluster: c, regex_rewrite: {pattern: {regex: "(a)"}, substitution: "\\\\2"}}}'),
      'virtual_hosts[0].routes[0].route.regex_rewrite.substitution', /group \\2 but the pattern has 1/);
    rejects(routeYaml('{match: {prefix: /}, redirect: {regex_rewrite: {pattern: {regex: "[z-a]"}, substitution: x}}}'),
      'virtual_hosts[0].routes[0].redirect.regex_rewrite.pattern.regex', /invalid regex/);
    rejects(routeYaml('{match: {prefix: /, query_parameters: [{name: q, string_match: {safe_regex: {regex: "*"}}}]}, route: {cluster: c}}'),
      'virtual_hosts[0].routes[0].match.query_parameters[0].string_match.safe_regex.regex', /invalid regex '\*'/);
  });

  it('duplicate domains across (or within) virtual hosts', () => {
    const dup = (d1: string, d2: string) => `
name: my-routes
virtual_hosts:
- {name: a, domains: [${d1}], routes: []}
- {name: b, domains: [other.com, ${d2}], routes: []}`;
    rejects(dup('example.com', 'EXAMPLE.com'), 'virtual_hosts[1].domains[1]',
      /Only unique values for domains are permitted. Duplicate entry of domain example.com in route my-routes/);
    rejects(dup('"*.example.com"', '"*.example.com"'), 'virtual_hosts[1].domains[1]', /Duplicate entry of domain \*\.example\.com/);
    rejects(dup('"api.*"', '"api.*"'), 'virtual_hosts[1].domains[1]', /Duplicate entry of domain api\.\*/);
    rejects(dup('"*"', '"*"'), 'virtual_hosts[1].domains[1]', /Only a single wildcard domain is permitted in route my-routes/);
    rejects(`
virtual_hosts:
- {name: a, domains: [x.com, x.com], routes: []}`, 'virtual_hosts[0].domains[1]', /Duplicate entry of domain x.com/);
  });

  it('a virtual host needs a domain', () => {
    rejects('virtual_hosts: [{name: a, domains: [], routes: []}]', 'virtual_hosts[0].domains', /at least one domain/);
  });

  it('weighted clusters whose weights sum to 0 (or overflow)', () => {
    rejects(routeYaml('{match: {prefix: /}, route: {weighted_clusters: {clusters: [{name: a, weight: 0}, {name: b}]}}}'),
      'virtual_hosts[0].routes[0].route.weighted_clusters.clusters', /Sum of weights in the weighted_cluster must be greater than 0/);
    rejects(routeYaml('{name: big, match: {prefix: /}, route: {weighted_clusters: {clusters: [{name: a, weight: 4294967295}, {name: b, weight: 1}]}}}'),
      'virtual_hosts[0].routes[0].route.weighted_clusters.clusters', /weighted clusters of route big exceeds 4294967295/);
    rejects(routeYaml('{match: {prefix: /}, route: {weighted_clusters: {clusters: [{weight: 1}]}}}'),
      'virtual_hosts[0].routes[0].route.weighted_clusters.clusters[0]', /At least one of name or cluster_header need to be specified/);
    rejects(routeYaml('{match: {prefix: /}, route: {weighted_clusters: {clusters: [{name: a, cluster_header: x, weight: 1}]}}}'),
      'virtual_hosts[0].routes[0].route.weighted_clusters.clusters[0]', /Only one of name or cluster_header can be specified/);
    rejects(routeYaml('{match: {prefix: /}, route: {weighted_clusters: {clusters: []}}}'),
      'virtual_hosts[0].routes[0].route.weighted_clusters.clusters', /at least one weighted cluster/);
  });

  it('a route without match, path specifier or action', () => {
    rejects(routeYaml('{route: {cluster: c}}'), 'virtual_hosts[0].routes[0].match', /match is required/);
    rejects(routeYaml('{match: {headers: [{name: x}]}, route: {cluster: c}}'), 'virtual_hosts[0].routes[0].match',
      /one of prefix, path, safe_regex, path_separated_prefix or connect_matcher is required/);
    rejects(routeYaml('{match: {prefix: /}}'), 'virtual_hosts[0].routes[0]', /one of route, redirect or direct_response is required/);
    rejects(routeYaml('{match: {prefix: /}, route: {timeout: 1s}}'), 'virtual_hosts[0].routes[0].route',
      /one of cluster, cluster_header or weighted_clusters is required/);
  });

  it('prefix_rewrite together with regex_rewrite', () => {
    rejects(routeYaml('{match: {prefix: /}, route: {cluster: c, prefix_rewrite: /x, regex_rewrite: {pattern: {regex: a}, substitution: b}}}'),
      'virtual_hosts[0].routes[0].route', /Specify only one of prefix_rewrite, regex_rewrite or path_rewrite_policy/);
  });

  it('bad path_separated_prefix', () => {
    rejects(routeYaml('{match: {path_separated_prefix: /api/}, route: {cluster: c}}'),
      'virtual_hosts[0].routes[0].match.path_separated_prefix', /not end with '\/'/);
    rejects(routeYaml('{match: {path_separated_prefix: "/a?b"}, route: {cluster: c}}'),
      'virtual_hosts[0].routes[0].match.path_separated_prefix', /no '\?' or '#'/);
  });

  it('mirror policies need exactly one of cluster / cluster_header', () => {
    rejects(routeYaml('{match: {prefix: /}, route: {cluster: c, request_mirror_policies: [{cluster: a, cluster_header: b}]}}'),
      'virtual_hosts[0].routes[0].route.request_mirror_policies[0]', /Only one of cluster 'a' or cluster_header 'b'/);
    rejects(routeYaml('{match: {prefix: /}, route: {cluster: c}}', '  request_mirror_policies: [{}]'),
      'virtual_hosts[0].request_mirror_policies[0]', /Exactly one of cluster or cluster_header/);
  });

  it('unsupported features are rejected, not silently ignored', () => {
    rejects(routeYaml('{match: {prefix: /, tls_context: {presented: true}}, route: {cluster: c}}'),
      'virtual_hosts[0].routes[0].match.tls_context', /not supported/);
    rejects(routeYaml('{match: {prefix: /}, route: {cluster_specifier_plugin: p}}'),
      'virtual_hosts[0].routes[0].route.cluster_specifier_plugin', /not supported/);
    rejects(routeYaml('{match: {prefix: /}, non_forwarding_action: {}}'),
      'virtual_hosts[0].routes[0].non_forwarding_action', /not supported/);
  });

  it('errors inside the route configuration level', () => {
    rejects(`
request_headers_to_remove: [":path"]
virtual_hosts: []`, 'request_headers_to_remove[0]', /:-prefixed or host headers may not be removed/);
    rejects(`
response_headers_to_add: [{header: {key: "", value: x}}]
virtual_hosts: []`, 'response_headers_to_add[0].header.key', /must not be empty/);
  });

  it('redirect response code and port range', () => {
    rejects(routeYaml('{match: {prefix: /}, redirect: {port_redirect: 70000}}'),
      'virtual_hosts[0].routes[0].redirect.port_redirect', /at most 65535/);
  });
});
