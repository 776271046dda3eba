// The kube-proxy applier against a real kernel: a network namespace of its own, real
// iptables-restore, real packets, fed with API objects through api/convert.ts as kube-proxy's
// controller feeds it. Checks what kube-proxy guarantees: the chains and jumps appear,
// a partial sync rewrites only the changed Service, foreign rules survive everything, and
// teardown leaves no KUBE-* chain or jump rule behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/sys/exec.ts';
import { endpointSliceFromApi, serviceFromApi, type ApiObject } from '../../src/api/convert.ts';
import type { EndpointSlice, Service } from '../../src/api/types.ts';
import { ProxySyncer, teardownProxyRules } from '../../src/proxy/syncer.ts';
import { serviceChainName } from '../../src/proxy/names.ts';
import type { ProxyConfig } from '../../src/proxy/model.ts';

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('test/e2e/proxy-applier.test.ts: skipped, needs root (it creates a network namespace and writes iptables rules in it)');

const NS = `pplt-proxy-${randomBytes(3).toString('hex')}`;
const config: ProxyConfig = { nodeName: 'labS', nodeIPs: ['192.168.56.110'], clusterCIDR: '10.42.0.0/16' };

// The Services and EndpointSlices as the API server serves them (defaulted, optional fields left
// out), handed to the syncer through api/convert.ts exactly as kube-proxy's controller does
// (src/proxy/proxy-controller.ts).
type ApiService = ApiObject & { spec: { type?: string; clusterIP: string; clusterIPs?: string[]; ports: { name: string; protocol?: string; port: number; targetPort?: number; nodePort?: number }[]; [k: string]: unknown } };

function apiService(name: string, clusterIP: string, extra: Partial<ApiService['spec']> = {}): ApiService {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, resourceVersion: '1' },
    spec: { type: 'ClusterIP', clusterIP, clusterIPs: [clusterIP], ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 80 }], sessionAffinity: 'None', internalTrafficPolicy: 'Cluster', ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', ...extra },
    status: { loadBalancer: {} },
  };
}
const service = (name: string, clusterIP: string, extra: Partial<ApiService['spec']> = {}): Service => serviceFromApi(apiService(name, clusterIP, extra));

/** An EndpointSlice as the EndpointSlice controller writes it; `bare`: endpoints without conditions (nil ready counts as ready). */
function slice(svc: string, ips: string[], opts: { bare?: boolean } = {}): EndpointSlice {
  return endpointSliceFromApi({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${svc}-abcde`, namespace: 'default', labels: { 'kubernetes.io/service-name': svc } },
    addressType: 'IPv4',
    endpoints: ips.map((ip) => ({ addresses: [ip], ...(opts.bare ? {} : { conditions: { ready: true, serving: true, terminating: false } }), nodeName: 'labS' })),
    ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
  });
}

const sh = (argv: string[]) => run(argv, { netns: NS });
const save = async (table: string) => (await sh(['iptables-save', '-t', table])).stdout.replace(/^#.*\n/gm, '').replace(/\[\d+:\d+\]/g, '[0:0]');

/** Rule handles of a chain: nft gives every rule a new handle when the chain is rewritten. */
async function handles(chain: string): Promise<string[]> {
  const r = await run(['nft', '-a', 'list', 'chain', 'ip', 'nat', chain], { netns: NS, allowFail: true });
  return [...r.stdout.matchAll(/# handle (\d+)/g)].map((m) => m[1]!);
}

/** Lines of iptables-save that are not kube-proxy's (the foreign rules the test planted). */
function foreign(saveText: string): string[] {
  return saveText.split('\n').filter((l) => /FOREIGN|198\.51\.100|KUBE-KUBELET-CANARY|foreign/.test(l));
}

const app2 = service('app2-service', '10.43.0.20');
const web = service('web', '10.43.0.30', { type: 'NodePort', externalTrafficPolicy: 'Cluster', ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 80, nodePort: 30080 }] });
const idle = service('idle', '10.43.0.40');

describe.skipIf(!isRoot)(`kube-proxy applier in a network namespace (${NS})`, () => {
  let syncer: ProxySyncer;
  let httpd: ChildProcess | undefined;
  let docroot = '';
  let foreignBefore: { nat: string[]; filter: string[] };

  beforeAll(async () => {
    await run(['ip', 'netns', 'add', NS]);
    // A veth end standing in for cni0, holding the pod IP 10.42.0.2, a route for the service CIDR, and a web server.
    for (const argv of [
      ['ip', 'link', 'set', 'lo', 'up'],
      ['ip', 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1'],
      ['ip', 'link', 'set', 'd1', 'up'],
      ['ip', 'addr', 'add', '10.42.0.1/24', 'dev', 'd0'],
      ['ip', 'addr', 'add', '10.42.0.2/32', 'dev', 'd0'],
      ['ip', 'link', 'set', 'd0', 'up'],
      ['ip', 'route', 'add', '10.43.0.0/16', 'dev', 'd0'],
      // Foreign rules and chains that must survive sync and teardown.
      ['iptables', '-t', 'nat', '-N', 'FOREIGN-CHAIN'],
      ['iptables', '-t', 'nat', '-A', 'FOREIGN-CHAIN', '-s', '198.51.100.7', '-j', 'RETURN'],
      ['iptables', '-t', 'nat', '-A', 'PREROUTING', '-s', '198.51.100.1', '-j', 'FOREIGN-CHAIN'],
      ['iptables', '-t', 'nat', '-N', 'KUBE-KUBELET-CANARY'],
      ['iptables', '-t', 'filter', '-A', 'INPUT', '-s', '198.51.100.2', '-j', 'DROP'],
      ['iptables', '-t', 'filter', '-I', 'FORWARD', '-m', 'comment', '--comment', 'foreign forward rule', '-j', 'ACCEPT'],
    ]) {
      await sh(argv);
    }
    docroot = mkdtempSync(path.join(tmpdir(), 'pplt-proxy-'));
    writeFileSync(path.join(docroot, 'index.html'), 'Welcome to App 2!\n');
    httpd = spawn('ip', ['netns', 'exec', NS, 'busybox', 'httpd', '-f', '-p', '10.42.0.2:80', '-h', docroot], { stdio: 'ignore' });
    foreignBefore = { nat: foreign(await save('nat')), filter: foreign(await save('filter')) };
    syncer = new ProxySyncer({ netns: NS, config });
  });

  afterAll(async () => {
    if (httpd?.pid) {
      httpd.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 100));
    }
    await run(['ip', 'netns', 'del', NS], { allowFail: true });
    if (docroot) rmSync(docroot, { recursive: true, force: true });
  });

  it('full sync: chains, jump rules once, REJECT for a Service without endpoints', async () => {
    const r = await syncer.sync({ services: [app2, web, idle], endpointSlices: [slice('app2-service', ['10.42.0.2', '10.42.0.3', '10.42.0.4']), slice('web', ['10.42.0.2'], { bare: true })] });
    expect(r.full).toBe(true);
    expect(r.jumpsInserted).toBe(14);
    expect(r.servicesWritten).toBe(3);
    const nat = await save('nat');
    const svc = serviceChainName('default', 'app2-service', 'http', 'TCP');
    expect(nat).toContain(`:${svc} - [0:0]`);
    // iptables' own rendering of kube-proxy's rules: /32 added, matches reordered.
    expect(nat).toContain(`-A KUBE-SERVICES -d 10.43.0.20/32 -p tcp -m comment --comment "default/app2-service:http cluster IP" -m tcp --dport 80 -j ${svc}`);
    expect(nat).toMatch(new RegExp(`-A ${svc} -m comment --comment "default/app2-service:http -> 10\\.42\\.0\\.2:80" -m statistic --mode random --probability 0\\.33333333349 -j KUBE-SEP-`));
    expect(nat).toContain('-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully');
    expect(nat).toContain('-A KUBE-NODEPORTS -p tcp -m comment --comment "default/web:http" -m tcp --dport 30080 -j KUBE-EXT-');
    // web's slice endpoint has no conditions: the API's nil ready means ready, so it is in the rules.
    expect(nat).toMatch(/-A KUBE-SEP-\S+ -p tcp -m comment --comment "default\/web:http" -m tcp -j DNAT --to-destination 10\.42\.0\.2:80/);
    expect(nat.match(/-j KUBE-SERVICES$/gm)).toHaveLength(2); // PREROUTING and OUTPUT, once each
    const filter = await save('filter');
    expect(filter).toContain('-A KUBE-SERVICES -d 10.43.0.40/32 -p tcp -m comment --comment "default/idle:http has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable');
    // kube-proxy's INPUT order: each jump inserted at the top, so the list comes out reversed.
    expect(filter.split('\n').filter((l) => l.startsWith('-A INPUT') && l.includes('-j KUBE-')).map((l) => l.split(' -j ')[1])).toEqual(['KUBE-FIREWALL', 'KUBE-PROXY-FIREWALL', 'KUBE-NODEPORTS', 'KUBE-EXTERNAL-SERVICES']);
    expect((await save('mangle'))).toContain(':KUBE-PROXY-CANARY - [0:0]');
  });

  it('carries packets: ClusterIP reaches the pod, a Service without endpoints refuses at once', async () => {
    const ok = await run(['curl', '-sS', '--max-time', '5', 'http://10.43.0.20/'], { netns: NS, allowFail: true });
    // Three endpoints, only 10.42.0.2 answers: retry until the random pick lands there.
    let body = ok.stdout;
    for (let i = 0; i < 30 && !body.includes('Welcome'); i++) body = (await run(['curl', '-sS', '--max-time', '1', 'http://10.43.0.20/'], { netns: NS, allowFail: true })).stdout;
    expect(body).toContain('Welcome to App 2!');
    const t0 = Date.now();
    const refused = await run(['curl', '-sS', '--max-time', '5', 'http://10.43.0.40/'], { netns: NS, allowFail: true });
    expect(refused.exitCode).toBe(7); // couldn't connect: REJECT answered with ICMP port unreachable
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('a second sync with nothing changed runs no process; the kernel state is unchanged', async () => {
    const before = await save('nat');
    const r = await syncer.sync({ services: [app2, web, idle], endpointSlices: [slice('app2-service', ['10.42.0.2', '10.42.0.3', '10.42.0.4']), slice('web', ['10.42.0.2'], { bare: true })] });
    expect(r.full).toBe(false);
    expect(r.skipped).toBe(true);
    expect(r.jumpsInserted).toBe(0);
    expect(r.servicesWritten).toBe(0);
    expect(r.spawns).toBe(0); // like kube-proxy: no change, no sync
    expect(await save('nat')).toBe(before);
  });

  it('a partial sync of one endpoint change touches only that Service', async () => {
    const app2Chain = serviceChainName('default', 'app2-service', 'http', 'TCP');
    const webChain = serviceChainName('default', 'web', 'http', 'TCP');
    const [app2Before, webBefore] = [await handles(app2Chain), await handles(webChain)];
    expect(webBefore.length).toBeGreaterThan(0);
    const r = await syncer.sync({ services: [app2, web, idle], endpointSlices: [slice('app2-service', ['10.42.0.2', '10.42.0.3']), slice('web', ['10.42.0.2'], { bare: true })] });
    expect(r.full).toBe(false);
    expect(r.skipped).toBe(false);
    expect(r.spawns).toBe(1); // one iptables-restore, nothing else
    expect(r.servicesWritten).toBe(1);
    expect(r.staleChainsDeleted).toBe(1); // the SEP of 10.42.0.4
    expect(syncer.lastRestoreInput).not.toContain(`:${webChain}`);
    expect(await handles(webChain)).toEqual(webBefore); // untouched
    expect(await handles(app2Chain)).not.toEqual(app2Before); // rewritten
    const nat = await save('nat');
    expect(nat).not.toContain('10.42.0.4:80');
    expect(nat).toMatch(/--probability 0\.50000000000 -j KUBE-SEP-/);
  });

  it('a full sync on demand repairs a deleted jump rule', async () => {
    await sh(['iptables', '-t', 'nat', '-D', 'PREROUTING', '-m', 'comment', '--comment', 'kubernetes service portals', '-j', 'KUBE-SERVICES']);
    syncer.requestFullSync();
    const r = await syncer.sync({ services: [app2, web, idle], endpointSlices: [slice('app2-service', ['10.42.0.2', '10.42.0.3']), slice('web', ['10.42.0.2'], { bare: true })] });
    expect(r.full).toBe(true);
    expect(r.jumpsInserted).toBe(1);
    expect((await save('nat')).match(/^-A PREROUTING .*-j KUBE-SERVICES$/gm)).toHaveLength(1);
  });

  it('a new syncer (controller restart) deletes the chains of Services that went away meanwhile', async () => {
    const restarted = new ProxySyncer({ netns: NS, config });
    const r = await restarted.sync({ services: [app2, idle], endpointSlices: [slice('app2-service', ['10.42.0.2', '10.42.0.3'])] });
    expect(r.full).toBe(true);
    expect(r.jumpsInserted).toBe(0);
    expect(r.staleChainsDeleted).toBe(3); // web's SVC, EXT and SEP
    expect(await save('nat')).not.toContain(serviceChainName('default', 'web', 'http', 'TCP').slice('KUBE-SVC-'.length));
    syncer = restarted;
  });

  it('deletes UDP conntrack entries of removed endpoints (and only those) after a sync', async () => {
    const dns = service('dns', '10.43.0.53', { ports: [{ name: 'dns', protocol: 'UDP', port: 53, targetPort: 53 }] });
    const udpSlice = (ips: string[]): EndpointSlice => ({ ...slice('dns', ips), ports: [{ name: 'dns', protocol: 'UDP', port: 53 }] });
    const base = { services: [app2, idle, dns], endpointSlices: [slice('app2-service', ['10.42.0.2', '10.42.0.3'])] };
    await syncer.sync({ ...base, endpointSlices: [...base.endpointSlices, udpSlice(['10.42.0.5', '10.42.0.6'])] });
    // Two flows DNATed by the rules above, one to each endpoint.
    for (const [sport, ep] of [['5000', '10.42.0.5'], ['5001', '10.42.0.6']] as const) {
      await sh(['conntrack', '-I', '-p', 'udp', '-s', '10.42.0.1', '-d', '10.43.0.53', '--sport', sport, '--dport', '53', '--reply-src', ep, '--reply-dst', '10.42.0.1', '--reply-port-src', '53', '--reply-port-dst', sport, '-t', '120']);
    }
    const r = await syncer.sync({ ...base, endpointSlices: [...base.endpointSlices, udpSlice(['10.42.0.6'])] });
    expect(r.servicesWritten).toBe(1);
    const flows = (await run(['conntrack', '-L', '-p', 'udp'], { netns: NS, allowFail: true })).stdout;
    expect(flows).not.toContain('src=10.42.0.5 dst=10.42.0.1');
    expect(flows).toContain('src=10.42.0.6 dst=10.42.0.1 sport=53 dport=5001');
  });

  it('foreign rules and chains survive syncs and teardown; teardown leaves no KUBE-* of ours', async () => {
    expect(foreign(await save('nat'))).toEqual(foreignBefore.nat);
    expect(foreign(await save('filter'))).toEqual(foreignBefore.filter);
    const t = await syncer.teardown();
    expect(t.jumpsDeleted).toBe(14);
    for (const table of ['nat', 'filter', 'mangle']) {
      const text = await save(table);
      const kube = text.split('\n').filter((l) => l.includes('KUBE-') && !l.includes('KUBE-KUBELET-CANARY'));
      expect(kube, table).toEqual([]);
    }
    expect(foreign(await save('nat'))).toEqual(foreignBefore.nat);
    expect(foreign(await save('filter'))).toEqual(foreignBefore.filter);
    // Idempotent: nothing left to remove.
    expect(await teardownProxyRules(NS)).toEqual({ jumpsDeleted: 0, chainsDeleted: 0, restoreInput: '' });
  });
});
