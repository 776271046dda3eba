import { describe, expect, it } from 'vitest';
import type { HTTPIngressPath, Ingress, IngressRule, Service } from '../../src/api/types.ts';
import { buildRoutingTable, normalizeHost, route, servicePortResolver, type RouteDecision, type RoutingTable } from '../../src/ingress/routes.ts';

function ingress(name: string, spec: Partial<Ingress['spec']>, meta: { namespace?: string; created?: string } = {}): Ingress {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: meta.namespace ?? 'default', labels: {}, annotations: {}, creationTimestamp: meta.created },
    spec: { rules: [], ...spec },
    source: { file: 'test', line: 1 },
  };
}

function p(path: string, pathType: HTTPIngressPath['pathType'], svc: string, port: number | string = 80): HTTPIngressPath {
  return { path, pathType, backend: { service: { name: svc, port: typeof port === 'number' ? { number: port } : { name: port } } } };
}

function rule(host: string | undefined, ...paths: HTTPIngressPath[]): IngressRule {
  return host === undefined ? { http: { paths } } : { host, http: { paths } };
}

/** The service a request lands on, or '404'. */
function svc(t: RoutingTable, host: string, path: string): string {
  const d: RouteDecision = route(t, host, path);
  return d.kind === 'notFound' ? '404' : d.backend.name;
}

describe('host matching', () => {
  const t = buildRoutingTable([
    ingress('web', {
      rules: [
        rule('app1.com', p('/', 'Prefix', 'app1')),
        rule('*.foo.com', p('/', 'Prefix', 'wild')),
        rule('bar.foo.com', p('/', 'Prefix', 'exactbar')),
      ],
    }),
  ]);

  it('matches exact hosts case-insensitively and without port or trailing dot', () => {
    expect(svc(t, 'app1.com', '/')).toBe('app1');
    expect(svc(t, 'APP1.com:8080', '/')).toBe('app1');
    expect(svc(t, 'app1.com.', '/x')).toBe('app1');
    expect(svc(t, 'app1.co', '/')).toBe('404');
    expect(svc(t, 'xapp1.com', '/')).toBe('404');
  });

  it('wildcard matches exactly one label', () => {
    expect(svc(t, 'baz.foo.com', '/')).toBe('wild');
    expect(svc(t, 'foo.com', '/')).toBe('404');
    expect(svc(t, 'a.baz.foo.com', '/')).toBe('404');
    expect(svc(t, '.foo.com', '/')).toBe('404');
  });

  it('exact host beats wildcard', () => {
    expect(svc(t, 'bar.foo.com', '/')).toBe('exactbar');
  });

  it('orders exact hosts before wildcards', () => {
    expect(t.hosts.map((h) => `${h.kind}:${h.host}`)).toEqual(['exact:app1.com', 'exact:bar.foo.com', 'wildcard:*.foo.com']);
  });

  it('normalizes Host headers like nginx $host', () => {
    expect(normalizeHost('Example.COM:80')).toBe('example.com');
    expect(normalizeHost('[::1]:80')).toBe('[::1]');
    expect(normalizeHost('a.b.')).toBe('a.b');
  });
});

describe('path matching (the Ingress spec examples)', () => {
  const one = (...paths: HTTPIngressPath[]): RoutingTable => buildRoutingTable([ingress('i', { rules: [rule(undefined, ...paths)] })]);

  it('Prefix / matches everything', () => {
    const t = one(p('/', 'Prefix', 'a'));
    for (const path of ['/', '/foo', '/foo/bar/', '/x?y=1']) expect(svc(t, 'h', path)).toBe('a');
  });

  it('Exact matches only the same path, trailing slash significant', () => {
    const t = one(p('/foo', 'Exact', 'a'));
    expect(svc(t, 'h', '/foo')).toBe('a');
    expect(svc(t, 'h', '/foo?q=1')).toBe('a');
    expect(svc(t, 'h', '/bar')).toBe('404');
    expect(svc(t, 'h', '/foo/')).toBe('404');
    const t2 = one(p('/foo/', 'Exact', 'a'));
    expect(svc(t2, 'h', '/foo/')).toBe('a');
    expect(svc(t2, 'h', '/foo')).toBe('404');
  });

  it('Prefix matches element-wise and ignores a trailing slash', () => {
    for (const decl of ['/foo', '/foo/']) {
      const t = one(p(decl, 'Prefix', 'a'));
      expect(svc(t, 'h', '/foo')).toBe('a');
      expect(svc(t, 'h', '/foo/')).toBe('a');
      expect(svc(t, 'h', '/foo/bar')).toBe('a');
      expect(svc(t, 'h', '/foobar')).toBe('404');
      expect(svc(t, 'h', '/fo')).toBe('404');
    }
    const t = one(p('/aaa/bb', 'Prefix', 'a'));
    expect(svc(t, 'h', '/aaa/bbb')).toBe('404');
    const t2 = one(p('/aaa/bbb', 'Prefix', 'a'));
    for (const path of ['/aaa/bbb', '/aaa/bbb/', '/aaa/bbb/ccc']) expect(svc(t2, 'h', path)).toBe('a');
    expect(svc(t2, 'h', '/aaa/bbbxyz')).toBe('404');
  });

  it('longest match wins, Exact beats Prefix at the same length', () => {
    const t = one(p('/', 'Prefix', 'root'), p('/aaa', 'Prefix', 'aaa'), p('/aaa/bbb', 'Prefix', 'bbb'), p('/aaa', 'Exact', 'exact'));
    expect(svc(t, 'h', '/aaa/bbb')).toBe('bbb');
    expect(svc(t, 'h', '/aaa/bbb/c')).toBe('bbb');
    expect(svc(t, 'h', '/aaa/ccc')).toBe('aaa');
    expect(svc(t, 'h', '/aaa/')).toBe('aaa');
    expect(svc(t, 'h', '/aaa')).toBe('exact');
    expect(svc(t, 'h', '/ccc')).toBe('root');
    // Prefix /foo/ normalizes to /foo: same length as Exact /foo, so Exact still wins.
    const t2 = one(p('/foo/', 'Prefix', 'prefix'), p('/foo', 'Exact', 'exact'));
    expect(svc(t2, 'h', '/foo')).toBe('exact');
    expect(svc(t2, 'h', '/foo/')).toBe('prefix');
  });

  it('ImplementationSpecific is treated as Prefix', () => {
    const t = one(p('/api', 'ImplementationSpecific', 'a'));
    expect(svc(t, 'h', '/api/v1')).toBe('a');
    expect(svc(t, 'h', '/apis')).toBe('404');
    expect(t.anyHost[0]?.pathType).toBe('Prefix');
    expect(t.anyHost[0]?.declared.pathType).toBe('ImplementationSpecific');
  });
});

describe('default backend and 404', () => {
  it('sends unmatched hosts and unmatched paths of known hosts to the default backend', () => {
    const t = buildRoutingTable([
      ingress('web', {
        defaultBackend: { service: { name: 'app3', port: { number: 80 } } },
        rules: [rule('app1.com', p('/api', 'Prefix', 'api')), rule(undefined, p('/shared', 'Prefix', 'shared'))],
      }),
    ]);
    expect(route(t, 'app1.com', '/api/x')).toMatchObject({ kind: 'path', backend: { name: 'api', namespace: 'default', port: { number: 80 } } });
    expect(route(t, 'app1.com', '/other')).toMatchObject({ kind: 'defaultBackend', backend: { name: 'app3' }, host: { host: 'app1.com' } });
    // A known host does not fall through to the host-less rules (ingress-nginx semantics).
    expect(route(t, 'app1.com', '/shared')).toMatchObject({ kind: 'defaultBackend' });
    expect(route(t, 'unknown.example', '/shared')).toMatchObject({ kind: 'path', host: null, backend: { name: 'shared' } });
    expect(route(t, 'unknown.example', '/')).toMatchObject({ kind: 'defaultBackend', host: null, backend: { name: 'app3' } });
    expect((route(t, 'x', '/') as { backend: object }).backend).not.toHaveProperty('ingress');
  });

  it('answers 404 when nothing matches and there is no default backend', () => {
    const t = buildRoutingTable([ingress('web', { rules: [rule('app1.com', p('/', 'Prefix', 'app1'))] })]);
    expect(route(t, 'other.com', '/')).toEqual({ kind: 'notFound', host: null });
    expect(buildRoutingTable([]).defaultBackend).toBeNull();
    expect(route(buildRoutingTable([]), 'a', '/')).toEqual({ kind: 'notFound', host: null });
  });

  it('a host with no paths captures the host and uses the default backend', () => {
    const t = buildRoutingTable([ingress('web', { defaultBackend: { service: { name: 'd', port: { number: 80 } } }, rules: [{ host: 'bare.com' }, rule(undefined, p('/', 'Prefix', 'any'))] })]);
    expect(svc(t, 'bare.com', '/')).toBe('d');
    expect(svc(t, 'x.com', '/')).toBe('any');
  });
});

describe('several Ingresses', () => {
  it('the oldest defaultBackend wins, input order breaking ties, and the loser is reported', () => {
    const newer = ingress('newer', { defaultBackend: { service: { name: 'new', port: { number: 80 } } } }, { created: '2024-05-02T00:00:00Z' });
    const older = ingress('older', { defaultBackend: { service: { name: 'old', port: { number: 80 } } } }, { created: '2024-05-01T00:00:00Z', namespace: 'team' });
    for (const list of [[newer, older], [older, newer]]) {
      const t = buildRoutingTable(list);
      expect(t.defaultBackend).toMatchObject({ name: 'old', namespace: 'team', ingress: 'team/older' });
      expect(t.warnings.join('\n')).toMatch(/default\/newer: defaultBackend default\/new:80 ignored: team\/older/);
    }
    const a = ingress('a', { defaultBackend: { service: { name: 'first', port: { number: 80 } } } });
    const b = ingress('b', { defaultBackend: { service: { name: 'second', port: { number: 80 } } } });
    expect(buildRoutingTable([b, a]).defaultBackend?.name).toBe('second');
  });

  it('merges the paths of one host across Ingresses; a duplicate path goes to the oldest', () => {
    const t = buildRoutingTable([
      ingress('b', { rules: [rule('app.com', p('/api', 'Prefix', 'api-new'), p('/b', 'Prefix', 'b'))] }, { created: '2024-05-02T00:00:00Z' }),
      ingress('a', { rules: [rule('app.com', p('/api/', 'Prefix', 'api-old'), p('/a', 'Exact', 'a'))] }, { created: '2024-05-01T00:00:00Z' }),
    ]);
    expect(t.hosts).toHaveLength(1);
    expect(svc(t, 'app.com', '/api/x')).toBe('api-old');
    expect(svc(t, 'app.com', '/a')).toBe('a');
    expect(svc(t, 'app.com', '/b/c')).toBe('b');
    expect(t.warnings).toHaveLength(1);
    expect(t.warnings[0]).toMatch(/default\/b: host app.com Prefix \/api ignored: default\/a/);
  });

  it('backends live in the namespace of their Ingress', () => {
    const t = buildRoutingTable([ingress('w', { rules: [rule('a.com', p('/', 'Prefix', 'web', 'http'))] }, { namespace: 'shop' })]);
    expect(route(t, 'a.com', '/')).toMatchObject({ backend: { namespace: 'shop', name: 'web', port: { name: 'http' } } });
  });

  it('filters by ingressClassName when asked (Ingresses without a class are served)', () => {
    const list = [
      ingress('mine', { ingressClassName: 'traefik', rules: [rule('a.com', p('/', 'Prefix', 'a'))] }),
      ingress('other', { ingressClassName: 'nginx', rules: [rule('b.com', p('/', 'Prefix', 'b'))] }),
      ingress('none', { rules: [rule('c.com', p('/', 'Prefix', 'c'))] }),
    ];
    expect(buildRoutingTable(list, { ingressClassName: 'traefik' }).hosts.map((h) => h.host)).toEqual(['a.com', 'c.com']);
    expect(buildRoutingTable(list).hosts.map((h) => h.host)).toEqual(['a.com', 'b.com', 'c.com']);
  });
});

describe('invalid rules are skipped with a warning', () => {
  it.each([
    ['host with an underscore', rule('bad_host.com', p('/', 'Prefix', 'a')), /host bad_host.com ignored/],
    ['double wildcard', rule('*.*.com', p('/', 'Prefix', 'a')), /ignored/],
    ['IP as host', rule('10.0.0.1', p('/', 'Prefix', 'a')), /ignored/],
    ['relative path', rule('a.com', p('foo', 'Prefix', 'a')), /must be an absolute path/],
    ['nginx-unsafe path', rule('a.com', p('/a;b', 'Prefix', 'a')), /characters/],
    ['percent-encoded path', rule('a.com', p('/a%20b', 'Prefix', 'a')), /characters/],
    ['dot segment', rule('a.com', p('/a/../b', 'Prefix', 'a')), /\/\.\.\//],
    ['double slash', rule('a.com', p('/a//b', 'Prefix', 'a')), /'\/\/'/],
    ['service name with a quote', rule('a.com', p('/', 'Prefix', 'a"b')), /not a DNS label/],
    ['port out of range', rule('a.com', p('/', 'Prefix', 'a', 70000)), /out of range/],
  ])('%s', (_name, r, warning) => {
    const t = buildRoutingTable([ingress('w', { rules: [r] })]);
    expect(t.warnings.join('\n')).toMatch(warning);
    expect(t.hosts.flatMap((h) => h.paths).concat(t.anyHost)).toHaveLength(0);
  });
});

describe('servicePortResolver', () => {
  const service = (name: string, ports: { name: string; port: number }[], type: Service['spec']['type'] = 'ClusterIP'): Service => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'default', labels: {}, annotations: {} },
    spec: {
      type,
      ports: ports.map((p) => ({ ...p, protocol: 'TCP' as const, targetPort: 8080 })),
      externalIPs: [],
      sessionAffinity: 'None',
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
    },
    source: { file: 'test', line: 1 },
  });
  const resolve = servicePortResolver([service('web', [{ name: 'http', port: 80 }, { name: 'admin', port: 9000 }]), service('ext', [], 'ExternalName')]);

  it('resolves Service port names and checks numbers against the Service', () => {
    expect(resolve('default', 'web', { name: 'admin' })).toBe(9000);
    expect(resolve('default', 'web', { number: 80 })).toBe(80);
    expect(resolve('default', 'web', { number: 8080 })).toBeUndefined();
    expect(resolve('default', 'web', { name: 'nope' })).toBeUndefined();
    expect(resolve('other', 'web', { number: 80 })).toBeUndefined();
    expect(resolve('default', 'ext', { number: 443 })).toBe(443);
  });
});
