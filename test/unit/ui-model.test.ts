// lab ui's picture as data (src/ui/model.ts): API objects and the node's nat table in, elements out.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseIptablesSave } from '../../src/trace/iptables.ts';
import { parseNftList } from '../../src/trace/nft-table.ts';
import { buildModel, nftServiceObjects, nftShortName, podState, serviceChains, tracePath, type ApiPod, type ModelInput } from '../../src/ui/model.ts';

const NAT = `*nat
:PREROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-AAAA - [0:0]
:KUBE-SEP-ONE - [0:0]
:KUBE-SEP-TWO - [0:0]
:KUBE-SEP-THREE - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A KUBE-SERVICES -d 10.43.10.20/32 -p tcp -m comment --comment "default/app2-service:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-AAAA
-A KUBE-SVC-AAAA -m comment --comment "default/app2-service:http -> 10.42.0.5:80" -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-ONE
-A KUBE-SVC-AAAA -m comment --comment "default/app2-service:http -> 10.42.0.6:80" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-TWO
-A KUBE-SVC-AAAA -m comment --comment "default/app2-service:http -> 10.42.0.7:80" -j KUBE-SEP-THREE
-A KUBE-SEP-ONE -p tcp -m comment --comment "default/app2-service:http" -m tcp -j DNAT --to-destination 10.42.0.5:80
-A KUBE-SEP-TWO -p tcp -m comment --comment "default/app2-service:http" -m tcp -j DNAT --to-destination 10.42.0.6:80
-A KUBE-SEP-THREE -p tcp -m comment --comment "default/app2-service:http" -m tcp -j DNAT --to-destination 10.42.0.7:80
COMMIT
`;

const pod = (name: string, ip: string, ready = true, restarts = 0): ApiPod => ({
  metadata: { name, namespace: 'default', uid: `uid-${name}`, labels: { app: 'app2' } },
  spec: { nodeName: 'labs', containers: [{ name: 'app2' }] },
  status: {
    phase: 'Running',
    podIP: ip,
    conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    containerStatuses: [{ name: 'app2', ready, restartCount: restarts, state: { running: {} } }],
  },
});

function input(over: Partial<ModelInput> = {}): ModelInput {
  return {
    instance: 'lab',
    mode: 'sandbox',
    laptopIP: '192.168.56.1',
    pods: [pod('app2-a', '10.42.0.5'), pod('app2-b', '10.42.0.6'), pod('app2-c', '10.42.0.7', false, 2)],
    services: [{ metadata: { name: 'app2-service', namespace: 'default' }, spec: { type: 'ClusterIP', clusterIP: '10.43.10.20', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } }],
    endpointSlices: [{ metadata: { name: 'app2-service-x', namespace: 'default', labels: { 'kubernetes.io/service-name': 'app2-service' } }, endpoints: [{ addresses: ['10.42.0.5'], conditions: { ready: true } }, { addresses: ['10.42.0.6'], conditions: { ready: true } }, { addresses: ['10.42.0.7'], conditions: { ready: false } }] }],
    nodes: [{ metadata: { name: 'labs' }, spec: { podCIDR: '10.42.0.0/24' }, status: { addresses: [{ type: 'InternalIP', address: '192.168.56.110' }], conditions: [{ type: 'Ready', status: 'True' }] } }],
    ingresses: [{ metadata: { name: 'apps-ingress', namespace: 'default' }, spec: { rules: [{ host: 'app2.com', http: { paths: [{ path: '/', backend: { service: { name: 'app2-service' } } }] } }] } }],
    nat: parseIptablesSave(NAT),
    kernelNode: 'labs',
    links: { eth1: ['192.168.56.110/24'], cni0: ['10.42.0.1/24'] },
    veths: { 'uid-app2-a': 'veth1234abcd' },
    ...over,
  };
}

describe('lab ui model', () => {
  it("reads kube-proxy's chains from the nat table: KUBE-SVC -> KUBE-SEP in order, with probabilities and DNAT targets", () => {
    const ch = serviceChains(parseIptablesSave(NAT), '10.43.10.20', 80);
    expect(ch).toEqual({
      svc: 'KUBE-SVC-AAAA',
      seps: [
        { chain: 'KUBE-SEP-ONE', probability: 0.33333333349, to: '10.42.0.5:80' },
        { chain: 'KUBE-SEP-TWO', probability: 0.5, to: '10.42.0.6:80' },
        { chain: 'KUBE-SEP-THREE', probability: undefined, to: '10.42.0.7:80' },
      ],
    });
    expect(serviceChains(parseIptablesSave(NAT), '10.43.10.20', 443)).toBeUndefined();
    expect(serviceChains(parseIptablesSave(NAT), '10.43.10.20', 80, 'udp')).toBeUndefined();
  });

  it('draws the laptop, the node with its interfaces, pods on their veths, the Service with its chains, the Ingress', () => {
    const m = buildModel(input());
    const byId = new Map(m.elements.map((e) => [e.id, e]));
    expect(m.proxyMode).toBe('iptables');
    expect(byId.get('laptop')?.label).toContain('192.168.56.1');
    expect(byId.get('if/labs/eth1')?.label).toContain('192.168.56.110/24');
    expect(byId.get('if/labs/flannel.1')?.label).toContain('10.42.0.0/32'); // from the podCIDR when the kernel has none
    expect(byId.get('pod/default/app2-a')?.parent).toBe('node/labs');
    expect(byId.get('e/if/labs/cni0->pod/default/app2-a')?.label).toBe('veth1234abcd');
    expect(byId.get('pod/default/app2-c')).toMatchObject({ state: 'Running', classes: ['notready'] });
    expect(byId.get('pod/default/app2-c')?.label).toContain('0/1 ready · ↻2');
    expect(byId.get('svc/default/app2-service')?.label).toContain('ClusterIP 10.43.10.20');
    expect(byId.get('svc/default/app2-service')?.summary).toContain('endpoints 2 ready of 3');
    expect(byId.get('e/chain/KUBE-SVC-AAAA->chain/KUBE-SEP-ONE')?.label).toBe('p=0.3333');
    expect(byId.get('e/chain/KUBE-SVC-AAAA->chain/KUBE-SEP-TWO')?.label).toBe('p=0.5');
    expect(byId.get('e/chain/KUBE-SVC-AAAA->chain/KUBE-SEP-THREE')?.label).toBe('the rest');
    expect(byId.get('e/chain/KUBE-SEP-TWO->pod/default/app2-b')?.label).toBe('DNAT');
    expect(byId.get('ing/default/apps-ingress')).toMatchObject({ hosts: ['app2.com'] });
    expect(byId.get('e/ing/default/apps-ingress->svc/default/app2-service')?.label).toBe('app2.com');
    // Every edge's ends exist; ids are unique.
    const ids = new Set(m.elements.map((e) => e.id));
    expect(ids.size).toBe(m.elements.length);
    for (const e of m.elements.filter((x) => x.kind === 'edge')) expect(ids.has(e.source!) && ids.has(e.target!)).toBe(true);
  });

  it('is the same for the same input in any order (the page lays it out deterministically)', () => {
    const a = buildModel(input());
    const b = buildModel(input({ pods: [...input().pods].reverse(), nodes: [...input().nodes].reverse() }));
    expect(b).toEqual(a);
  });

  it('without chains in the kernel (nftables mode), draws the EndpointSlice\'s pods instead', () => {
    const m = buildModel(input({ nat: parseIptablesSave('*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n') }));
    expect(m.proxyMode).toBe('nftables');
    expect(m.elements.some((e) => e.kind === 'chain')).toBe(false);
  });

  it("kubectl's STATUS: a waiting reason wins, a deleted pod is Terminating", () => {
    const p = pod('x', '10.42.0.9', false, 3);
    p.status!.containerStatuses![0]!.state = { waiting: { reason: 'CrashLoopBackOff' } };
    expect(podState(p)).toMatchObject({ status: 'CrashLoopBackOff', ready: '0/1', restarts: 3, isReady: false });
    p.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    expect(podState(p).status).toBe('Terminating');
  });

  it("a trace's path: source, eth1, each Service and chain in order, the Ingress, the pod that answered", () => {
    const m = buildModel(input());
    const path = tracePath(
      m,
      {
        from: { kind: 'laptop', ip: '192.168.56.1' },
        legs: [
          { to: { ip: '192.168.56.110' } },
          { to: { ip: '10.43.10.20' }, service: { namespace: 'default', service: 'app2-service' }, svcChain: 'KUBE-SVC-AAAA', sepChain: 'KUBE-SEP-TWO', dnat: { pod: { namespace: 'default', name: 'app2-b' } } },
        ],
        ingress: { pod: { namespace: 'default', name: 'not-drawn' }, log: { host: 'app2.com' } },
        answeredBy: { namespace: 'default', name: 'app2-b' },
      },
      'laptop',
      'app2.com',
    );
    expect(path).toEqual(['laptop', 'if/labs/eth1', 'ing/default/apps-ingress', 'svc/default/app2-service', 'chain/KUBE-SVC-AAAA', 'chain/KUBE-SEP-TWO', 'pod/default/app2-b']);
  });

  // test/fixtures/trace/nft-list-table.txt: the kernel's listing of kube-proxy's nftables table, with
  // default/app2-service:http given two endpoints (10.42.0.5:80 and 127.0.0.1:80).
  const NFT = parseNftList(readFileSync(path.resolve(import.meta.dirname, '../fixtures/trace/nft-list-table.txt'), 'utf8'));
  const SVC = 'service-CX35JJFW-default/app2-service/tcp/http';
  const EP1 = 'endpoint-W3JLSUNE-default/app2-service/tcp/http__10.42.0.5/80';
  const EP2 = 'endpoint-NC6GP35J-default/app2-service/tcp/http__127.0.0.1/80';

  it("reads a Service port's nftables objects: the service chain, its numgen vmap's endpoint chains with their shares and DNAT", () => {
    expect(nftServiceObjects(NFT, 'default', 'app2-service', { name: 'http', port: 80, protocol: 'TCP' })).toEqual({
      svc: SVC,
      numgen: 'numgen random mod 2',
      eps: [
        { chain: EP1, share: '1/2', to: '10.42.0.5:80' },
        { chain: EP2, share: '1/2', to: '127.0.0.1:80' },
      ],
    });
    expect(nftServiceObjects(NFT, 'default', 'app2-service', { name: 'other', port: 81 })).toBeUndefined();
    expect(nftServiceObjects(null, 'default', 'app2-service', { name: 'http', port: 80 })).toBeUndefined();
  });

  it("kube-proxy's nftables mode: draws the service chain and endpoint chains (no KUBE-SVC / KUBE-SEP), DNAT to the pod", () => {
    const m = buildModel(input({ nat: parseIptablesSave('*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n'), nft: NFT }));
    const byId = new Map(m.elements.map((e) => [e.id, e]));
    expect(m.proxyMode).toBe('nftables');
    expect(m.elements.some((e) => e.id.startsWith('chain/KUBE-'))).toBe(false);
    expect(byId.get(`chain/${SVC}`)).toMatchObject({ kind: 'chain', parent: 'group/default/app2-service' });
    expect(byId.get(`chain/${SVC}`)?.label).toContain('numgen random mod 2');
    expect(byId.get(`chain/${EP1}`)).toMatchObject({ kind: 'chain', parent: 'group/default/app2-service', classes: ['sep', 'nft'] });
    expect(byId.get(`chain/${EP1}`)?.label).toContain('→ 10.42.0.5:80');
    expect(byId.get(`e/svc/default/app2-service->chain/${SVC}`)?.label).toBe(':80');
    expect(byId.get(`e/chain/${SVC}->chain/${EP1}`)?.label).toBe('1/2');
    expect(byId.get(`e/chain/${SVC}->chain/${EP2}`)?.label).toBe('1/2');
    expect(byId.get(`e/chain/${EP1}->pod/default/app2-a`)?.label).toBe('dnat');
    // No pod at 127.0.0.1: no DNAT edge; and no EndpointSlice fallback edges once chains are drawn.
    expect(m.elements.some((e) => e.id.startsWith(`e/chain/${EP2}->`))).toBe(false);
    expect(m.elements.some((e) => e.id.startsWith('e/svc/default/app2-service->pod/'))).toBe(false);
  });

  it("reads each node's interfaces from its own kernel, and a Service's chains from an agent's when the server's has none", () => {
    const agent = { metadata: { name: 'agent1' }, spec: { podCIDR: '10.42.1.0/24' }, status: { addresses: [{ type: 'InternalIP', address: '192.168.56.111' }], conditions: [{ type: 'Ready', status: 'True' }] } };
    const base = input();
    const m = buildModel({
      ...base,
      nodes: [...base.nodes, agent],
      nat: parseIptablesSave('*nat\n:KUBE-SERVICES - [0:0]\nCOMMIT\n'),
      nodeKernels: { agent1: { nat: parseIptablesSave(NAT), links: { eth1: ['192.168.56.111/24'], cni0: ['10.42.1.1/24'], 'flannel.1': ['10.42.1.0/32'] } } },
    });
    const byId = new Map(m.elements.map((e) => [e.id, e]));
    expect(byId.get('if/agent1/eth1')?.label).toBe('eth1\n192.168.56.111/24');
    expect(byId.get('if/agent1/cni0')?.label).toBe('cni0\n10.42.1.1/24');
    expect(byId.get('if/labs/eth1')?.label).toBe('eth1\n192.168.56.110/24');
    expect(byId.get('e/chain/KUBE-SVC-AAAA->chain/KUBE-SEP-ONE')).toBeDefined();
  });
});

describe("the picture's label of an nftables chain", () => {
  it('keeps the prefix and hash of a per-service chain, and a base chain whole', () => {
    expect(nftShortName('endpoint-W3JLSUNE-default/app2-service/tcp/http__10.42.0.5/80')).toBe('endpoint-W3JLSUNE');
    expect(nftShortName('service-CX35JJFW-default/app2-service/tcp/http')).toBe('service-CX35JJFW');
    expect(nftShortName('external-VQOCNXXY-kube-system/ingress-nginx/tcp/http')).toBe('external-VQOCNXXY');
    expect(nftShortName('nat-prerouting')).toBe('nat-prerouting');
  });
});
