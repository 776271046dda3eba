import { describe, expect, it } from 'vitest';
import type { HTTPIngressPath, Ingress, IngressRule } from '../../src/api/types.ts';
import { ACCESS_LOG_FORMAT, nginxPidFile, parseAccessLogLine, renderNginxConfig, type NginxRenderOptions } from '../../src/ingress/nginx.ts';
import { buildRoutingTable, normalizeHost, route, type RoutingTable } from '../../src/ingress/routes.ts';

function ingress(name: string, spec: Partial<Ingress['spec']>): Ingress {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: 'default', labels: {}, annotations: {} },
    spec: { rules: [], ...spec },
    source: { file: 'test', line: 1 },
  };
}
const p = (path: string, pathType: HTTPIngressPath['pathType'], svc: string, port: number | string = 80): HTTPIngressPath => ({
  path,
  pathType,
  backend: { service: { name: svc, port: typeof port === 'number' ? { number: port } : { name: port } } },
});
const rule = (host: string | undefined, ...paths: HTTPIngressPath[]): IngressRule => (host ? { host, http: { paths } } : { http: { paths } });

const OPTS: NginxRenderOptions = {
  resolver: '10.43.0.10',
  clusterDomain: 'cluster.local',
  listenPort: 80,
  prefix: '/run/packet-path-lab/lab/ingress',
  accessLogPath: '/run/packet-path-lab/lab/ingress/access.log',
  errorLogPath: 'stderr',
};

function rules(withDefault: boolean): Ingress[] {
  return [
    ingress('web', {
      ...(withDefault ? { defaultBackend: { service: { name: 'app3-service', port: { number: 80 } } } } : {}),
      rules: [
        rule('app1.com', p('/', 'Prefix', 'app1-service'), p('/foo', 'Prefix', 'foo'), p('/foo/bar', 'Prefix', 'foobar'), p('/foo', 'Exact', 'fooexact')),
        rule('app2.com', p('/api/', 'Prefix', 'api', 'http'), p('/exact/', 'Exact', 'exact'), p('/', 'Exact', 'rootexact')),
        rule('*.wild.com', p('/aaa/bbb', 'Prefix', 'bbb'), p('/aaa', 'ImplementationSpecific', 'aaa')),
        rule(undefined, p('/shared', 'Prefix', 'shared')),
      ],
    }),
  ];
}

// --- A model of how nginx picks a server and a location, to run the rendered config without nginx.
// (The e2e test checks the same grid against the real nginx.)
interface Loc {
  exact: boolean;
  path: string;
  result: string;
}
interface Server {
  names: string[];
  isDefault: boolean;
  locations: Loc[];
}

function parseServers(conf: string): Server[] {
  const servers: Server[] = [];
  let cur: Server | null = null;
  let loc: Loc | null = null;
  for (const raw of conf.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    let m: RegExpExecArray | null;
    if (line === '}') loc = null;
    else if (line === 'server {') servers.push((cur = { names: [], isDefault: false, locations: [] }));
    else if (cur && (m = /^listen \d+( default_server)?;$/.exec(line))) cur.isDefault = !!m[1];
    else if (cur && (m = /^server_name (.+);$/.exec(line))) cur.names = m[1]!.split(/\s+/);
    else if (cur && (m = /^location (= )?"?([^"\s]+)"? \{$/.exec(line))) cur.locations.push((loc = { exact: !!m[1], path: m[2]!, result: '' }));
    else if (loc && (m = /^set \$ingress_backend "([^"]+)";$/.exec(line))) loc.result = m[1]!;
    else if (loc && (m = /^return (\d+);$/.exec(line))) loc.result = m[1]!;
  }
  return servers;
}

function nginxModel(servers: Server[], hostHeader: string, uri: string): string {
  const host = normalizeHost(hostHeader);
  const server =
    servers.find((s) => s.names.includes(host)) ??
    servers.find((s) => s.names.some((n) => n.startsWith('~') && new RegExp(n.slice(1)).test(host))) ??
    servers.find((s) => s.isDefault)!;
  const exact = server.locations.find((l) => l.exact && l.path === uri);
  if (exact) return exact.result;
  const prefixes = server.locations.filter((l) => !l.exact && uri.startsWith(l.path)).sort((a, b) => b.path.length - a.path.length);
  return prefixes[0]?.result ?? 'no location';
}

/** route() in the notation of the rendered config: `ns/svc:port`, or the status nginx returns. */
function expected(t: RoutingTable, host: string, path: string, resolve: (port: { number?: number; name?: string }) => number | undefined): string {
  const d = route(t, host, path);
  if (d.kind === 'notFound') return '404';
  const port = resolve(d.backend.port);
  return port === undefined ? '503' : `${d.backend.namespace}/${d.backend.name}:${port}`;
}

const HOSTS = ['app1.com', 'APP1.com:80', 'app2.com', 'x.wild.com', 'x.y.wild.com', 'wild.com', 'other.com', ''];
const PATHS = ['/', '/foo', '/foo/', '/foo/bar', '/foo/bar/', '/foo/barx', '/foobar', '/fo', '/api', '/api/', '/api/v1', '/apis', '/exact', '/exact/', '/exact/x', '/aaa', '/aaa/', '/aaa/bbb', '/aaa/bbbxyz', '/aaa/ccc', '/aaax', '/shared', '/shared/x', '/sharedx'];

describe('rendered config routes exactly like route()', () => {
  for (const withDefault of [false, true]) {
    it(`every host x path of the grid (${withDefault ? 'with' : 'without'} defaultBackend)`, () => {
      const t = buildRoutingTable(rules(withDefault));
      const resolvePort: NginxRenderOptions['resolvePort'] = (_ns, _svc, port) => port.number ?? (port.name === 'http' ? 8080 : undefined);
      const servers = parseServers(renderNginxConfig(t, { ...OPTS, resolvePort }));
      expect(servers).toHaveLength(1 + 3);
      let checked = 0;
      for (const host of HOSTS) {
        for (const path of PATHS) {
          const want = expected(t, host, path, (port) => resolvePort('default', '', port));
          expect(`${host} ${path} -> ${nginxModel(servers, host, path)}`).toBe(`${host} ${path} -> ${want}`);
          checked++;
        }
      }
      expect(checked).toBe(HOSTS.length * PATHS.length);
    });
  }
});

describe('renderNginxConfig', () => {
  const t = buildRoutingTable(rules(true));
  const conf = renderNginxConfig(t, OPTS);

  it('runs nginx in the foreground and keeps every runtime file under the prefix', () => {
    expect(conf).toMatch(/^daemon off;/m);
    expect(conf).toContain(`pid "${nginxPidFile(OPTS.prefix)}";`);
    expect(nginxPidFile(OPTS.prefix)).toBe('/run/packet-path-lab/lab/ingress/nginx.pid');
    expect(conf).toContain(`lock_file "${OPTS.prefix}/nginx.lock";`);
    for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) expect(conf).toContain(`${t}_temp_path "${OPTS.prefix}/${t}_temp";`);
    const directives = conf.replace(/#.*$/gm, '');
    expect(directives).not.toMatch(/\/var\/lib\/nginx|\/var\/log|\/etc\/nginx|^\s*include/m);
    expect(conf).toMatch(/^error_log stderr notice;/m);
    expect(conf).toContain(`access_log "${OPTS.accessLogPath}" ingress;`);
  });

  it('resolves Service DNS names per request through the cluster DNS', () => {
    expect(conf).toMatch(/^\s*resolver 10\.43\.0\.10 valid=5s ipv6=off;$/m);
    expect(conf).toContain('set $ingress_upstream "app1-service.default.svc.cluster.local:80";');
    // Only variable proxy_pass: a literal name would be resolved once, at startup.
    const passes = conf.match(/proxy_pass .*;/g) ?? [];
    expect(passes.length).toBeGreaterThan(5);
    expect(new Set(passes)).toEqual(new Set(['proxy_pass http://$ingress_upstream;']));
    const conf2 = renderNginxConfig(t, { ...OPTS, resolver: '10.96.0.10', clusterDomain: 'k8s.example', resolverValidSeconds: 30 });
    expect(conf2).toMatch(/resolver 10\.96\.0\.10 valid=30s/);
    expect(conf2).toContain('"app3-service.default.svc.k8s.example:80"');
  });

  it('renders element-wise Prefix as `= /p` plus `/p/`, never a bare character-wise `location /p`', () => {
    const locs = [...conf.matchAll(/location (.*) \{/g)].map((m) => m[1]);
    expect(locs).toContain('"/foo/bar/"');
    expect(locs).toContain('= "/foo/bar"');
    expect(locs.filter((l) => l !== '/' && !l!.startsWith('=') && !l!.endsWith('/"'))).toEqual([]);
  });

  it('gives the path of an Exact rule to the Exact backend only once (nginx rejects duplicate locations)', () => {
    const app1 = conf.slice(conf.indexOf('server_name app1.com;'));
    const block = app1.slice(0, app1.indexOf('\n    }\n'));
    expect(block.match(/location = "\/foo" /g)).toHaveLength(1);
    expect(block).toMatch(/location = "\/foo" \{[^}]*"default\/fooexact:80"/);
  });

  it('matches wildcards with a one-label regex and exact hosts by name', () => {
    expect(conf).toContain('server_name ~^[^.]+\\.wild\\.com$;');
    expect(conf).toContain('server_name app1.com;');
    expect(conf.match(/default_server/g)).toHaveLength(1);
    expect(conf).toMatch(/listen 80 default_server;\n\s*server_name _;/);
  });

  it('answers 404 without a default backend, 503 for an unresolvable port', () => {
    const none = renderNginxConfig(buildRoutingTable(rules(false)), OPTS);
    expect(none).toMatch(/location \/ \{[^}]*return 404;/);
    expect(none).not.toContain('app3-service');
    // Named port with the default resolver (numbers only): unresolved.
    expect(none).toMatch(/location "\/api\/" \{[^}]*set \$ingress_backend "default\/api:http";\s*return 503;/);
    const resolved = renderNginxConfig(buildRoutingTable(rules(false)), { ...OPTS, resolvePort: (_n, _s, port) => port.number ?? 8080 });
    expect(resolved).toContain('"api.default.svc.cluster.local:8080"');
  });

  it('lets the caller address upstreams directly (tests without cluster DNS)', () => {
    const direct = renderNginxConfig(t, { ...OPTS, upstreamAddress: (_ns, svc, port) => `127.0.0.1:${svc === 'app1-service' ? 18081 : port}` });
    expect(direct).toContain('set $ingress_upstream "127.0.0.1:18081";');
    expect(direct).not.toContain('svc.cluster.local');
    expect(() => renderNginxConfig(t, { ...OPTS, upstreamAddress: () => 'evil; include /etc/passwd' })).toThrow(/host:port/);
  });

  it('sets the proxy headers ingress-nginx sets', () => {
    expect(conf).toContain('proxy_set_header Host $host;');
    expect(conf).toContain('proxy_set_header X-Real-IP $remote_addr;');
    expect(conf).toContain('proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;');
    // proxy_set_header in a location would silently drop all inherited ones.
    expect(conf.match(/proxy_set_header/g)!.length).toBe((conf.slice(0, conf.indexOf('server {')).match(/proxy_set_header/g) ?? []).length);
  });

  it('has balanced braces and is deterministic', () => {
    expect((conf.match(/\{/g) ?? []).length).toBe((conf.match(/\}/g) ?? []).length);
    expect(renderNginxConfig(buildRoutingTable(rules(true)), OPTS)).toBe(conf);
    expect(renderNginxConfig(buildRoutingTable([...rules(true)].reverse()), OPTS)).toBe(conf);
  });

  it('writes the routing warnings as comments', () => {
    const bad = buildRoutingTable([ingress('w', { rules: [rule('a.com', p('/x;y', 'Prefix', 'a'))] })]);
    const c = renderNginxConfig(bad, OPTS);
    expect(c).toMatch(/^# warning: default\/w: host a.com path "\/x;y" ignored/m);
    expect(c).not.toContain('location "/x;y');
  });

  it('rejects options that would break or inject into the config', () => {
    expect(() => renderNginxConfig(t, { ...OPTS, resolver: 'kube-dns' })).toThrow(/resolver/);
    expect(() => renderNginxConfig(t, { ...OPTS, accessLogPath: '/tmp/$host.log' })).toThrow(/accessLogPath/);
    expect(() => renderNginxConfig(t, { ...OPTS, prefix: 'relative' })).toThrow(/prefix/);
    expect(() => renderNginxConfig(t, { ...OPTS, listenPort: 0 })).toThrow(/listenPort/);
    expect(() => renderNginxConfig(t, { ...OPTS, clusterDomain: 'a b' })).toThrow(/clusterDomain/);
    expect(renderNginxConfig(t, { ...OPTS, workerProcesses: 4, listenPort: 8080 })).toMatch(/worker_processes 4;[\s\S]*listen 8080 default_server;/);
  });
});

describe('access log', () => {
  it('records host, request, status, backend, upstream address and status in one parseable line', () => {
    for (const v of ['$host', '$request', '$status', '$upstream_addr', '$upstream_status', '$ingress_backend']) expect(ACCESS_LOG_FORMAT).toContain(v);
    const values: Record<string, string> = {
      remote_addr: '192.168.56.1',
      time_local: '22/Nov/2026:05:24:27 +0000',
      host: 'app2.com',
      request: 'GET /x HTTP/1.1',
      status: '200',
      body_bytes_sent: '18',
      ingress_backend: 'default/app2-service:80',
      upstream_addr: '10.43.12.7:80',
      upstream_status: '200',
      request_time: '0.004',
      upstream_response_time: '0.003',
    };
    const line = ACCESS_LOG_FORMAT.replace(/\$([a-z_]+)/g, (_, v: string) => values[v] ?? `<${v}?>`);
    expect(line).not.toContain('?>');
    expect(parseAccessLogLine(line)).toEqual({
      remoteAddr: '192.168.56.1',
      time: '22/Nov/2026:05:24:27 +0000',
      host: 'app2.com',
      request: 'GET /x HTTP/1.1',
      status: 200,
      bytes: 18,
      backend: 'default/app2-service:80',
      upstream: '10.43.12.7:80',
      upstreamStatus: '200',
      requestTime: 0.004,
      upstreamTime: '0.003',
    });
    expect(parseAccessLogLine('garbage')).toBeNull();
  });
});
