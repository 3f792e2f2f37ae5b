import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { req, streamInfo, table } from './test_util.js';

/** One vhost per domain list; each routes everything to a cluster named after the vhost. */
function vhosts(spec: Record<string, string[]>, extra = ''): string {
  let y = `name: rc\n${extra}\nvirtual_hosts:\n`;
  for (const [name, domains] of Object.entries(spec)) {
    y += `- name: ${name}\n  domains: ${JSON.stringify(domains)}\n  routes: [{match: {prefix: "/"}, route: {cluster: ${name}}}]\n`;
  }
  return y;
}

const vhName = (t: ReturnType<typeof table>, host: string | undefined, si = streamInfo()) => {
  const h = req(host ?? 'x', '/');
  if (host === undefined) h.remove(':authority');
  return t.findVirtualHost(h, si)?.name ?? null;
};

describe('virtual host selection (Envoy domain search order)', () => {
  const t = table(vhosts({
    exact: ['www.foo.com', 'foo.com:8080'],
    suffix_short: ['*.foo.com'],
    suffix_long: ['*-bar.foo.com'],
    suffix_nodot: ['*baz.com'],
    prefix_short: ['foo.*'],
    prefix_long: ['foo-bar.*'],
    star: ['*'],
  }));
  const cases: Array<[string, string]> = [
    ['www.foo.com', 'exact'], // exact beats every wildcard
    ['WWW.Foo.COM', 'exact'], // case-insensitive
    ['foo.com:8080', 'exact'], // ports are part of the domain
    ['foo.com:9090', 'prefix_short'], // foo.* matches with the port
    ['a.foo.com', 'suffix_short'],
    ['a-bar.foo.com', 'suffix_long'], // longest suffix wins
    ['x.a-bar.foo.com', 'suffix_long'],
    ['bar.foo.com', 'suffix_short'], // "*-bar.foo.com" needs the '-'
    ['.foo.com', 'star'], // a wildcard never matches the empty string
    ['-bar.foo.com', 'suffix_short'], // "-bar.foo.com" is not longer than "*-bar.foo.com"'s suffix
    ['abaz.com', 'suffix_nodot'],
    ['baz.com', 'star'],
    ['foo.org', 'prefix_short'], // suffix wildcards are tried before prefix ones
    ['foo-bar.org', 'prefix_long'], // longest prefix wins
    ['foo.foo.com', 'suffix_short'], // suffix beats prefix
    ['foo.', 'star'],
    ['other.org', 'star'],
  ];
  for (const [host, want] of cases) {
    it(`${host} -> ${want}`, () => assert.equal(vhName(t, host), want));
  }

  it('no :authority: no virtual host (unless * is the only domain)', () => {
    assert.equal(vhName(t, undefined), null);
    const onlyStar = table(vhosts({ star: ['*'] }));
    assert.equal(vhName(onlyStar, undefined), 'star');
  });

  it('no match and no * gives no route', () => {
    const t2 = table(vhosts({ a: ['a.com'] }));
    assert.equal(vhName(t2, 'b.com'), null);
    assert.equal(t2.route(req('b.com', '/'), streamInfo(), 0), null);
  });
});

describe('port handling', () => {
  const spec = { plain: ['example.com'], ported: ['example.com:8080'] };

  it('without stripping, a port must be listed', () => {
    const t = table(vhosts(spec));
    assert.equal(vhName(t, 'example.com'), 'plain');
    assert.equal(vhName(t, 'example.com:8080'), 'ported');
    assert.equal(vhName(t, 'example.com:443'), null);
  });

  it('strip_any_host_port strips any numeric port', () => {
    const t = table(vhosts({ plain: ['example.com'] }), { stripAnyHostPort: true });
    assert.equal(vhName(t, 'example.com:443'), 'plain');
    assert.equal(vhName(t, 'example.com:9999'), 'plain');
    assert.equal(vhName(t, 'example.com:abc'), null); // not a port: kept
  });

  it('strip_matching_host_port strips only the listener port', () => {
    const t = table(vhosts({ plain: ['example.com'] }), { stripMatchingHostPort: true });
    const si = streamInfo({ downstreamLocalAddress: '10.1.1.1:8443' });
    assert.equal(vhName(t, 'example.com:8443', si), 'plain');
    assert.equal(vhName(t, 'example.com:443', si), null);
    const si6 = streamInfo({ downstreamLocalAddress: '[::1]:80' });
    assert.equal(vhName(t, 'example.com:80', si6), 'plain');
  });

  it('strip_trailing_host_dot', () => {
    const t = table(vhosts({ plain: ['example.com'] }), { stripTrailingHostDot: true, stripAnyHostPort: true });
    assert.equal(vhName(t, 'example.com.'), 'plain');
    assert.equal(vhName(t, 'example.com.:80'), 'plain');
  });

  it('ignore_port_in_host_matching (route configuration)', () => {
    const t = table(vhosts({ plain: ['example.com'], v6: ['[fc00::1]'] }, 'ignore_port_in_host_matching: true'));
    assert.equal(vhName(t, 'example.com:1234'), 'plain');
    assert.equal(vhName(t, '[fc00::1]:443'), 'v6');
    assert.equal(vhName(t, '[fc00::1]'), 'v6');
  });
});

describe('wildcard tables with many entries use map lookups with the same result', () => {
  const spec: Record<string, string[]> = { star: ['*'] };
  for (let i = 0; i < 20; i++) spec[`s${i}`] = [`*.d${i}.com`];
  for (let i = 0; i < 20; i++) spec[`p${i}`] = [`h${i}x.*`];
  const t = table(vhosts(spec));
  it('suffix and prefix', () => {
    assert.equal(vhName(t, 'a.d7.com'), 's7');
    assert.equal(vhName(t, 'h13x.org'), 'p13');
    assert.equal(vhName(t, 'd7.com'), 'star');
  });
});
