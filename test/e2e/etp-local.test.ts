// externalTrafficPolicy: Local on the single node, from the laptop: a LoadBalancer Service whose
// backend pod prints the source address it sees (busybox httpd's CGI REMOTE_ADDR), kube-proxy's
// KUBE-EXT -> KUBE-SVL path without masquerade, and the health check node port the API allocated
// answering as kube-proxy's service health server does: 200 with one local endpoint, 503 once the
// Deployment is scaled to 0. kube-proxy's own /healthz answers on 127.0.0.1:10256 in the node.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instancePaths } from '../../src/node/instance.ts';
import { cmd, curl, inNetns, instanceName, isRoot, lab, labOk, sourceIpApp, until } from './helpers.ts';

const I = instanceName('etpl');
const paths = instancePaths(I);
const NODE_IP = '192.168.56.110';
const LAPTOP_IP = '192.168.56.1';

const STATE = sourceIpApp({ type: 'LoadBalancer', port: 8081 });

interface SvcJson {
  spec: { clusterIP: string; healthCheckNodePort?: number; ports: { nodePort?: number }[] };
  status?: { loadBalancer?: { ingress?: { ip: string }[] } };
}

describe.skipIf(!isRoot)('externalTrafficPolicy: Local from the laptop (one node)', () => {
  let dir: string;
  let kubeconfig: string;
  let svc: SvcJson;
  const kubectl = (args: string[]) => cmd(['kubectl', '--kubeconfig', kubeconfig, ...args]);
  const health = () => curl(paths.hostNetns, `http://${NODE_IP}:${svc.spec.healthCheckNodePort}/`, ['-i']);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pplt-etpl-'));
    const state = path.join(dir, 'cluster.yaml');
    await writeFile(state, STATE);
    // One node: the server's.
    const up = await lab(['up', '--name', I, '--state', state, '--nodes', '1'], { timeoutMs: 180_000 });
    if (up.code !== 0) throw new Error(`lab up failed:\n${up.stderr}\n${up.stdout}`);
    kubeconfig = path.join(dir, 'k3s.yaml');
    await writeFile(kubeconfig, (await labOk(['kubeconfig', '--name', I])).stdout, { mode: 0o600 });
    // ServiceLB lists the node once the pod is a ready endpoint.
    svc = await until('the Service with its LoadBalancer address', async () => {
      const s = JSON.parse((await labOk(['get', 'svc', 'srcip', '--name', I, '-o', 'json'])).stdout) as SvcJson;
      return s.status?.loadBalancer?.ingress?.length ? s : undefined;
    });
  }, 200_000);

  afterAll(async () => {
    const down = await lab(['down', '--name', I], { timeoutMs: 120_000 });
    if (down.code !== 0) process.stderr.write(`lab down: ${down.stderr}\n`);
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 150_000);

  it('the API allocated a healthCheckNodePort from the NodePort range; ServiceLB lists the node', () => {
    expect(svc.spec.healthCheckNodePort).toBeGreaterThanOrEqual(30000);
    expect(svc.spec.healthCheckNodePort).toBeLessThanOrEqual(32767);
    expect(svc.spec.healthCheckNodePort).not.toBe(svc.spec.ports[0]!.nodePort);
    expect(svc.status!.loadBalancer!.ingress).toEqual([{ ip: NODE_IP, ipMode: 'VIP' }]);
  });

  it('the pod sees the laptop\'s own address through the LoadBalancer IP and the NodePort (no SNAT)', async () => {
    // busybox httpd listens on an IPv6 socket: an IPv4 peer shows as its v4-mapped address.
    const seen = `[::ffff:${LAPTOP_IP}]`;
    const viaLB = await curl(paths.hostNetns, `http://${NODE_IP}:8081/cgi-bin/ip`);
    expect(viaLB.stderr).toBe('');
    expect(viaLB.stdout.trim()).toBe(seen);
    const viaNodePort = await curl(paths.hostNetns, `http://${NODE_IP}:${svc.spec.ports[0]!.nodePort}/cgi-bin/ip`);
    expect(viaNodePort.stdout.trim()).toBe(seen);
  });

  it('kube-proxy took the path KUBE-EXT -> KUBE-SVL; the EXT chain marks only LOCAL sources for masquerade', async () => {
    const nat = (await cmd(['ip', 'netns', 'exec', paths.nodeNetns, 'iptables-save', '-t', 'nat'])).stdout;
    // iptables-save's own order of the matches.
    const ext = /-A (KUBE-EXT-[A-Z2-7]{16}) -s 10\.42\.0\.0\/16 -m comment --comment "pod traffic for default\/srcip:http external destinations" -j KUBE-SVC-/.exec(nat)![1]!;
    const rules = nat.split('\n').filter((l) => l.startsWith(`-A ${ext} `));
    expect(rules.at(-1)).toBe(`-A ${ext} -j ${ext.replace('KUBE-EXT-', 'KUBE-SVL-')}`);
    expect(rules.filter((l) => l.endsWith('-j KUBE-MARK-MASQ'))).toEqual([`-A ${ext} -m comment --comment "masquerade LOCAL traffic for default/srcip:http external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`]);
    const filter = (await cmd(['ip', 'netns', 'exec', paths.nodeNetns, 'iptables-save', '-t', 'filter'])).stdout;
    expect(filter).toContain(`-A KUBE-NODEPORTS -p tcp -m comment --comment "default/srcip:http health check node port" -m tcp --dport ${svc.spec.healthCheckNodePort} -j ACCEPT`);
  });

  it('the health check node port answers 200 with localEndpoints 1 from the laptop, as kube-proxy writes it', async () => {
    const r = await health();
    const body = '{\n\t"service": {\n\t\t"namespace": "default",\n\t\t"name": "srcip"\n\t},\n\t"localEndpoints": 1,\n\t"serviceProxyHealthy": true\n}';
    expect(r.stdout.replace(/\r\nDate: [^\r]+/, '')).toBe(
      `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\nX-Load-Balancing-Endpoint-Weight: 1\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  });

  it('kube-proxy\'s /healthz answers on 127.0.0.1:10256 inside the node, and not from the laptop', async () => {
    const r = await inNetns(paths.nodeNetns, ['curl', '-sS', '--max-time', '5', 'http://127.0.0.1:10256/healthz']);
    expect(JSON.parse(r.stdout)).toMatchObject({ nodeEligible: true, healthy: true, status: { IPv4: { healthy: true } } });
    const fromLaptop = await curl(paths.hostNetns, `http://${NODE_IP}:10256/healthz`);
    expect(fromLaptop.code).not.toBe(0);
  });

  it('scaled to 0: the health check node port answers 503 with localEndpoints 0, and the LoadBalancer lists no node', async () => {
    const scaled = await kubectl(['scale', 'deploy', 'srcip', '--replicas=0']);
    expect(scaled.stderr).toBe('');
    const r = await until('503', async () => ((await health()).stdout.startsWith('HTTP/1.1 503') ? await health() : undefined), 30_000);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n[^]*X-Load-Balancing-Endpoint-Weight: 0\r\n[^]*"localEndpoints": 0,\n\t"serviceProxyHealthy": true\n}$/);
    const s = await until('no ingress', async () => {
      const j = JSON.parse((await labOk(['get', 'svc', 'srcip', '--name', I, '-o', 'json'])).stdout) as SvcJson;
      return (j.status?.loadBalancer?.ingress ?? []).length === 0 ? j : undefined;
    });
    expect(s.spec.healthCheckNodePort).toBe(svc.spec.healthCheckNodePort);
  });
});
