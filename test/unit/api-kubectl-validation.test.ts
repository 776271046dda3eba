// Real kubectl (v1.32) against startApiServer on 127.0.0.1: an invalid object is refused with
// kube's exact text (exit 1) and nothing is stored, on create, patch and server-side dry run;
// Services get their ClusterIP from 10.43.0.0/16 (the old allocator's choice) and a LoadBalancer
// its EXTERNAL-IP from the ServiceLB controller. Everything lives in a temporary directory and
// one socket on 127.0.0.1, both removed even on failure.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { allocateServices } from '../../src/api/allocators.ts';
import { resourceFor } from '../../src/api/server/resources.ts';
import type { Service } from '../../src/api/types.ts';
import { InformerFactory, type Controller } from '../../src/client/controller.ts';
import { LocalClient } from '../../src/client/local.ts';
import { serviceLBController } from '../../src/controllers/servicelb-controller.ts';
import { useApiServer } from './kubectl-fixture.ts';
import { until } from './until.ts';

let factory: InformerFactory;
let servicelb: Controller;

const fx = useApiServer('validation', {
  before: async (api) => {
    // The node the ServiceLB controller publishes, as the kubelet registers it.
    api.registry.create(resourceFor('', 'nodes')!, undefined, {
      metadata: { name: 'labs' },
      status: { addresses: [{ type: 'InternalIP', address: '192.168.56.110' }, { type: 'Hostname', address: 'labs' }], conditions: [{ type: 'Ready', status: 'True' }] },
    });
    // The TaintNodesByCondition admission gave it node.kubernetes.io/not-ready:NoSchedule; the node
    // lifecycle controller (not run here) takes it off a Ready node, and ServiceLB skips a node
    // whose NoSchedule taint its pods do not tolerate.
    const node = api.registry.get(resourceFor('', 'nodes')!, undefined, 'labs');
    api.registry.update(resourceFor('', 'nodes')!, undefined, 'labs', { ...node, spec: { taints: [] } });
    const client = new LocalClient(api.registry);
    factory = new InformerFactory((r, sel) => client.listWatch(r, sel));
    servicelb = serviceLBController(factory, client);
    factory.start();
    await factory.waitForSync();
    void servicelb.run();
  },
  after: async () => {
    await servicelb?.stop();
    factory?.stop();
  },
});

async function kubectl(...args: string[]) {
  const r = await fx.kubectl(...args);
  return { ...r, out: r.stdout.trim(), err: r.stderr.trim() };
}

async function kubectlOk(...args: string[]): Promise<string> {
  const r = await kubectl(...args);
  expect(r.exitCode, `kubectl ${args.join(' ')}: ${r.err}`).toBe(0);
  return r.out;
}

function manifest(name: string, text: string): string {
  const file = path.join(fx.tmp, name);
  writeFileSync(file, text);
  return file;
}

const deployment = (name: string, container: string, selector = `  selector: {matchLabels: {app: ${name}}}\n`) =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ${name}}\nspec:\n${selector}  template:\n    metadata: {labels: {app: ${name}}}\n    spec:\n      containers: [${container}]\n`;

describe('kubectl and an invalid object', () => {
  it('apply -f of a Deployment without an image: kube\'s error, exit 1, nothing stored (also with --dry-run=server)', async () => {
    const file = manifest('noimage.yaml', deployment('web', '{name: web}'));
    const r = await kubectl('apply', '-f', file);
    expect([r.exitCode, r.err]).toEqual([1, 'The Deployment "web" is invalid: spec.template.spec.containers[0].image: Required value']);
    const dry = await kubectl('apply', '--dry-run=server', '-f', file);
    expect([dry.exitCode, dry.err]).toEqual([1, 'The Deployment "web" is invalid: spec.template.spec.containers[0].image: Required value']);
    const get = await kubectl('get', 'deploy');
    expect([get.out, get.err]).toEqual(['', 'No resources found in default namespace.']);
  });

  it('several problems: kubectl lists each cause', async () => {
    const r = await kubectl('apply', '-f', manifest('nosel.yaml', deployment('nosel', '{name: web, image: nginx}', '')));
    expect(r.exitCode).toBe(1);
    expect(r.err).toBe('The Deployment "nosel" is invalid: \n* spec.selector: Required value\n* spec.template.metadata.labels: Invalid value: map[string]string{"app":"nosel"}: `selector` does not match template `labels`');
  });

  it('a patch that makes the object invalid is refused after it is applied; the stored object stays', async () => {
    expect(await kubectlOk('apply', '-f', manifest('ok.yaml', deployment('ok', '{name: web, image: nginx}')))).toBe('deployment.apps/ok created');
    const r = await kubectl('patch', 'deploy', 'ok', '-p', '{"spec":{"replicas":-1}}');
    expect([r.exitCode, r.err]).toEqual([1, 'The Deployment "ok" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0']);
    expect(await kubectlOk('get', 'deploy', 'ok', '-o', 'jsonpath={.spec.replicas}')).toBe('1');
    const port = await kubectl('apply', '-f', manifest('svc-bad.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec:\n  selector: {app: ok}\n  ports: [{port: 70000, protocol: XTCP}]\n'));
    expect(port.err).toBe(
      'The Service "bad" is invalid: \n* spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive\n* spec.ports[0].protocol: Unsupported value: "XTCP": supported values: "SCTP", "TCP", "UDP"\n* spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
    );
  });
});

describe('kubectl and Services', () => {
  it('create service clusterip x --tcp=80 gets the old allocator\'s IP in 10.43.0.0/16', async () => {
    expect(await kubectlOk('create', 'service', 'clusterip', 'x', '--tcp=80')).toBe('service/x created');
    const ip = await kubectlOk('get', 'svc', 'x', '-o', 'jsonpath={.spec.clusterIP} {.spec.clusterIPs} {.spec.ipFamilyPolicy}');
    const s = { metadata: { name: 'x', namespace: 'default' }, spec: { type: 'ClusterIP', ports: [] } } as unknown as Service;
    const want = allocateServices([s], {}, { serviceCIDR: '10.43.0.0/16', serviceNodePortRange: [30000, 32767] }).allocations['default/x']!.clusterIP!;
    expect(ip).toBe(`${want} ["${want}"] SingleStack`);
    expect(want).toMatch(/^10\.43\.\d+\.\d+$/);
  });

  it('a requested ClusterIP that is taken: kube\'s error', async () => {
    const svc = (name: string) => `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}}\nspec:\n  clusterIP: 10.43.0.10\n  selector: {app: dns}\n  ports: [{name: dns, port: 53, protocol: UDP}]\n`;
    expect(await kubectlOk('apply', '-f', manifest('dns1.yaml', svc('dns-a')))).toBe('service/dns-a created');
    const r = await kubectl('apply', '-f', manifest('dns2.yaml', svc('dns-b')));
    expect([r.exitCode, r.err]).toEqual([1, 'The Service "dns-b" is invalid: spec.clusterIPs: Invalid value: []string{"10.43.0.10"}: failed to allocate IP 10.43.0.10: provided IP is already allocated']);
    // apply again of the same file: the allocated values stay, nothing changes
    expect(await kubectlOk('apply', '-f', manifest('dns1.yaml', svc('dns-a')))).toBe('service/dns-a unchanged');
  });

  it('get svc: TYPE, CLUSTER-IP, EXTERNAL-IP (ServiceLB\'s node IP for a LoadBalancer), PORT(S) with the NodePort', async () => {
    const lb = 'apiVersion: v1\nkind: Service\nmetadata: {name: ingress-nginx}\nspec:\n  type: LoadBalancer\n  selector: {app: ingress-nginx}\n  ports: [{name: http, port: 80, targetPort: 80}]\n';
    await kubectlOk('apply', '-f', manifest('lb.yaml', lb));
    await until('EXTERNAL-IP', () => kubectlOk('get', 'svc', 'ingress-nginx', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'), (ip) => ip === '192.168.56.110');
    const nodePort = await kubectlOk('get', 'svc', 'ingress-nginx', '-o', 'jsonpath={.spec.ports[0].nodePort}');
    const clusterIP = await kubectlOk('get', 'svc', 'ingress-nginx', '-o', 'jsonpath={.spec.clusterIP}');
    const lines = (await kubectlOk('get', 'svc')).split('\n');
    expect(lines[0]).toMatch(/^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$/);
    const row = lines.find((l) => l.startsWith('ingress-nginx '))!.split(/\s+/);
    expect(row.slice(0, 5)).toEqual(['ingress-nginx', 'LoadBalancer', clusterIP, '192.168.56.110', `80:${nodePort}/TCP`]);
    expect(Number(nodePort)).toBeGreaterThanOrEqual(30000);
    const x = lines.find((l) => l.startsWith('x '))!.split(/\s+/);
    expect(x.slice(0, 5)).toEqual(['x', 'ClusterIP', x[2], '<none>', '80/TCP']);
  });
});
