// The Corefile (src/dns/corefile.ts): k3s's coredns ConfigMap parsed into the settings the lab's
// DNS server takes from it, errors naming the line, the flags laid under it (main.ts), and the
// NodeHosts file answered and re-read by a real server on 127.0.0.1 (temp files, port 0).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as dnsPacket from 'dns-packet';
import dgram from 'node:dgram';
import { afterAll, describe, expect, it } from 'vitest';
import { corednsSettings, parseCorefile, parseHostsFile } from '../../src/dns/corefile.ts';
import { overlayHosts } from '../../src/dns/hosts.ts';
import { resolveLocal } from '../../src/dns/resolver.ts';
import { applyCorefile, main, parseDnsArgs } from '../../src/dns/main.ts';
import { buildDnsSnapshot } from '../../src/dns/records.ts';
import { capTtl } from '../../src/dns/server.ts';
import { loadDesiredState } from '../../src/api/load.ts';
import { loadSystemManifests } from '../../src/api/system.ts';
import { ingressSettings, servedBy } from '../../src/ingress/ingress-plan.ts';
import { writeDnsSnapshotFile } from '../../src/dns/snapshot-file.ts';
import { until } from './until.ts';

// k3s's Corefile (manifests/coredns.yaml), as lab/system.yaml ships it.
const K3S = `.:53 {
    errors
    health
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
      pods insecure
      fallthrough in-addr.arpa ip6.arpa
    }
    hosts /etc/coredns/NodeHosts {
      ttl 60
      reload 15s
      fallthrough
    }
    prometheus :9153
    forward . /etc/resolv.conf
    cache 30
    loop
    reload
    loadbalance
    import /etc/coredns/custom/*.override
}
import /etc/coredns/custom/*.server
`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pplt-corefile-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('Corefile parser', () => {
  it('reads k3s\'s Corefile: server keys, directives with arguments and option blocks, top-level import', () => {
    const cf = parseCorefile(K3S);
    expect(cf.servers).toHaveLength(1);
    expect(cf.servers[0]!.keys).toEqual(['.:53']);
    const k8s = cf.servers[0]!.directives.find((d) => d.name === 'kubernetes')!;
    expect(k8s).toMatchObject({ args: ['cluster.local', 'in-addr.arpa', 'ip6.arpa'], line: 5 });
    expect(k8s.block.map((d) => [d.name, ...d.args])).toEqual([['pods', 'insecure'], ['fallthrough', 'in-addr.arpa', 'ip6.arpa']]);
    expect(cf.topLevel).toEqual([{ name: 'import', args: ['/etc/coredns/custom/*.server'], block: [], line: 22 }]);
  });

  it('takes port, health, ready, kubernetes zones, hosts, forward and cache from it, and names what it ignores', () => {
    const s = corednsSettings(parseCorefile(K3S));
    expect(s).toMatchObject({
      port: 53,
      healthPort: 8080,
      readyPort: 8181,
      kubernetes: { zones: ['cluster.local', 'in-addr.arpa', 'ip6.arpa'] },
      hosts: { file: '/etc/coredns/NodeHosts', ttl: 60, reloadMs: 15_000, inline: [] },
      forward: { from: '.', to: ['/etc/resolv.conf'] },
      cacheTtl: 30,
      log: false,
    });
    expect(s.ignored).toEqual(['import (line 22)', 'prometheus (line 14)', 'loop (line 17)', 'reload (line 18)', 'import (line 20)']);
    const custom = corednsSettings(parseCorefile('# comment\n.:5353 {\n  health 127.0.0.1:9090 {\n    lameduck 5s\n  }\n  log\n  cache\n  hosts {\n    10.0.0.1 a b  # inline\n  }\n}\n'));
    expect(custom).toMatchObject({ port: 5353, healthPort: 9090, log: true, cacheTtl: 3600, hosts: { file: '/etc/hosts', inline: [{ ip: '10.0.0.1', names: ['a', 'b'] }] } });
    expect(custom.readyPort).toBeUndefined();
  });

  it('refuses broken Corefiles with the line', () => {
    expect(() => parseCorefile('.:53 {\n  errors\n')).toThrow('Corefile:1 - Error during parsing: unexpected end of file');
    expect(() => parseCorefile('.:53 {\n}\n}\n')).toThrow(/Corefile:3 .*no block is open/);
    expect(() => parseCorefile('.:53 {\n  forward . "/etc/resolv.conf\n}\n')).toThrow(/Corefile:2 .*unterminated/);
    expect(() => parseCorefile('.:53 {\n  hosts {\n    ttl {\n  }\n}\n')).toThrow(/Corefile:3 .*nest/);
    expect(() => parseCorefile('.:abc {\n}\n')).toThrow(/Corefile:1 .*zone\[:port\]/);
    expect(() => corednsSettings(parseCorefile('cluster.local:53 {\n}\n'))).toThrow(/Corefile:1 .*root zone/);
    expect(() => corednsSettings(parseCorefile('.:53 {\n  cache x\n  forward .\n}\n'))).toThrow(/Corefile:3 .*forward: need FROM/);
    expect(() => corednsSettings(parseCorefile('.:53 {\n  hosts /h {\n    reload soon\n  }\n}\n'))).toThrow(/Corefile:2 .*duration/);
  });

  it('hosts files: address then names, comments and junk skipped; names the file defines replace the snapshot\'s', () => {
    expect(parseHostsFile('192.168.56.110 labs\n# x\nnot-an-ip foo\n192.168.56.111 labsw labsw.local\n\n')).toEqual([
      { ip: '192.168.56.110', names: ['labs'] },
      { ip: '192.168.56.111', names: ['labsw', 'labsw.local'] },
    ]);
    const snap = buildDnsSnapshot({ services: [], endpoints: [], clusterDomain: 'cluster.local', nodeHosts: [{ ip: '10.9.9.9', hostnames: ['labs'] }, { ip: '10.9.9.8', hostnames: ['other'] }] });
    const view = overlayHosts(snap, [{ ip: '192.168.56.110', names: ['labs'] }]);
    expect(view.records.filter((r) => r.name === 'labs')).toEqual([{ name: 'labs', type: 'A', data: '192.168.56.110', from: 'hosts' }]);
    expect(view.records.some((r) => r.name === 'other')).toBe(true);
    expect(view.records).toContainEqual({ name: '110.56.168.192.in-addr.arpa', type: 'PTR', data: 'labs', from: 'hosts' });
    // The plugin's `ttl` option is the TTL of its answers (k3s's Corefile: ttl 60), not the snapshot's 5 s.
    const answer = resolveLocal({ id: 1, type: 'query', flags: 256, questions: [{ name: 'labs', type: 'A', class: 'IN' }] }, overlayHosts(snap, [{ ip: '192.168.56.110', names: ['labs'] }], 60));
    expect(answer.kind === 'answer' && answer.packet.answers).toEqual([{ name: 'labs', type: 'A', class: 'IN', ttl: 60, data: '192.168.56.110' }]);
  });
});

describe('the shipped system manifests (lab/system.yaml)', () => {
  it('carry k3s\'s coredns ConfigMap (Corefile + NodeHosts), the IngressClass and the ingress ConfigMap, and load on the old path', async () => {
    const system = await loadSystemManifests({ stateDir: '/run/packet-path-lab/t', mode: 'sandbox', clusterDNS: '10.43.0.10', nodeIP: '192.168.56.110', nodeName: 'labs' });
    const d = await loadDesiredState({ statePath: path.resolve('lab/cluster.yaml'), configPath: path.resolve('lab/config.yaml'), extraStates: [system] });
    const cm = d.configMaps.find((c) => c.metadata.namespace === 'kube-system' && c.metadata.name === 'coredns')!;
    expect(cm.data.NodeHosts).toBe('192.168.56.110 labs\n');
    const s = corednsSettings(parseCorefile(cm.data.Corefile!));
    expect(s).toMatchObject({ port: 53, healthPort: 8080, readyPort: 8181, log: true, cacheTtl: 30, hosts: { file: '/etc/coredns/NodeHosts' }, forward: { from: '.', to: ['/etc/resolv.conf'] } });
    const ic = d.manifests.find((m) => m.object.kind === 'IngressClass')!.object as never;
    expect(servedBy({ metadata: {}, spec: {} }, [ic]).served).toBe(true);
    expect(ingressSettings(d.configMaps.find((c) => c.metadata.name === 'ingress-nginx-controller')!.data).serviceUpstream).toBe(true);
    // Without the node (the old path does not say it), NodeHosts is empty and the snapshot's node record stays.
    const old = await loadSystemManifests({ stateDir: '/run/packet-path-lab/t', mode: 'sandbox', clusterDNS: '10.43.0.10' });
    expect(old.text).toMatch(/NodeHosts: \|\n {4}\n/);
  });
});

describe('Corefile over the flags', () => {
  it('the Corefile wins where it speaks; --refuse-external (the sandbox\'s seal) beats its forward', () => {
    const s = corednsSettings(parseCorefile(K3S));
    const lines: string[] = [];
    const sandbox = applyCorefile(parseDnsArgs(['--snapshot', 's', '-conf', '/etc/coredns/Corefile', '--port', '5300', '--refuse-external']), s, (l) => lines.push(l));
    expect(sandbox).toMatchObject({ port: 53, healthPort: 8080, readyPort: 8181, cacheTtl: 30, external: { mode: 'refuse' }, hosts: { file: '/etc/coredns/NodeHosts' } });
    expect(lines).toContain('dns: Corefile: forward . /etc/resolv.conf overridden by --refuse-external (sandbox: nothing leaves)');
    expect(lines.at(-1)).toBe('dns: Corefile: not implemented by the lab, ignored: import (line 22), prometheus (line 14), loop (line 17), reload (line 18), import (line 20)');
    const host = applyCorefile(parseDnsArgs(['--snapshot', 's', '--forward-resolv-conf', '/x/resolv.conf']), s, () => {});
    expect(host.external).toEqual({ mode: 'forward', resolvConf: '/etc/resolv.conf' });
    const ips = applyCorefile(parseDnsArgs(['--snapshot', 's']), corednsSettings(parseCorefile('.:53 {\n forward . 192.0.2.1 192.0.2.2:53\n}\n')), () => {});
    expect(ips.external).toEqual({ mode: 'forward', nameservers: ['192.0.2.1', '192.0.2.2'] });
  });

  it('cache N caps the TTLs handed out', () => {
    const res = capTtl({ type: 'response', answers: [{ name: 'x', type: 'A', ttl: 300, data: '1.2.3.4' }, { name: 'y', type: 'A', ttl: 5, data: '1.2.3.5' }] }, 30);
    expect(res.answers!.map((a) => (a as { ttl: number }).ttl)).toEqual([30, 5]);
  });
});

async function ask(port: number, name: string): Promise<dnsPacket.DecodedPacket> {
  const sock = dgram.createSocket('udp4');
  try {
    return await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no answer')), 2000);
      sock.on('message', (m) => {
        clearTimeout(t);
        resolve(dnsPacket.decode(m));
      });
      sock.send(dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name, class: 'IN' }] }), port, '127.0.0.1');
    });
  } finally {
    sock.close();
  }
}

describe('the DNS server from a Corefile', () => {
  it('listens where the Corefile says, answers the node name from NodeHosts and re-reads it when it changes', async () => {
    const snapshotPath = path.join(dir, 'snapshot.json');
    await writeDnsSnapshotFile(snapshotPath, buildDnsSnapshot({ services: [], endpoints: [], clusterDomain: 'cluster.local', generation: 1 }));
    const nodeHosts = path.join(dir, 'NodeHosts');
    fs.writeFileSync(nodeHosts, '192.168.56.110 labs\n');
    const corefile = path.join(dir, 'Corefile');
    fs.writeFileSync(corefile, `.:0 {\n  kubernetes cluster.local\n  hosts ${nodeHosts} {\n    reload 50ms\n  }\n  cache 30\n  prometheus :9153\n}\n`);
    const lines: string[] = [];
    const server = await main(['--snapshot', snapshotPath, '-conf', corefile, '--listen', '127.0.0.1', '--refuse-external'], (l) => lines.push(l));
    try {
      expect(lines).toContain('dns: Corefile: not implemented by the lab, ignored: prometheus (line 7)');
      const a = await ask(server.port, 'labs');
      expect(a.answers?.map((x) => (x as { data: string }).data)).toEqual(['192.168.56.110']);
      fs.writeFileSync(nodeHosts, '192.168.56.120 labs\n');
      await until('the new NodeHosts address', () => ask(server.port, 'labs'), (r) => (r.answers?.[0] as { data?: string } | undefined)?.data === '192.168.56.120');
      // Outside the cluster, sandbox: refused, not forwarded.
      expect(((await ask(server.port, 'example.com')) as dnsPacket.DecodedPacket & { rcode?: string }).rcode).toBe('REFUSED');
    } finally {
      await server.close();
    }
  });
});
