// lab ui's crash flow on the picture (src/ui/crash.ts): which elements each step of a crash
// lights, whether the pod is in its Service, and whether the four roles were seen in order.
import { describe, expect, it } from 'vitest';
import { parseIptablesSave } from '../../src/trace/iptables.ts';
import { crashLights, inService, offsetText, roundTrip, type CrashStepData } from '../../src/ui/crash.ts';
import { buildModel, type ApiPod, type ModelInput } from '../../src/ui/model.ts';

const NAT = `*nat
:KUBE-SERVICES - [0:0]
:KUBE-SVC-AAAA - [0:0]
:KUBE-SEP-ONE - [0:0]
:KUBE-SEP-TWO - [0:0]
-A KUBE-SERVICES -d 10.43.10.20/32 -p tcp -m comment --comment "default/app2-service:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-AAAA
-A KUBE-SVC-AAAA -m comment --comment "default/app2-service:http -> 10.42.0.5:80" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-ONE
-A KUBE-SVC-AAAA -m comment --comment "default/app2-service:http -> 10.42.0.6:80" -j KUBE-SEP-TWO
-A KUBE-SEP-ONE -p tcp -m comment --comment "default/app2-service:http" -m tcp -j DNAT --to-destination 10.42.0.5:80
-A KUBE-SEP-TWO -p tcp -m comment --comment "default/app2-service:http" -m tcp -j DNAT --to-destination 10.42.0.6:80
COMMIT
`;

const pod = (name: string, ip: string): ApiPod => ({
  metadata: { name, namespace: 'default', uid: `uid-${name}`, labels: { app: 'app2' } },
  spec: { nodeName: 'labs', containers: [{ name: 'app2' }] },
  status: { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ name: 'app2', ready: true, restartCount: 0, state: { running: {} } }] },
});

function input(over: Partial<ModelInput> = {}): ModelInput {
  return {
    instance: 'lab',
    mode: 'sandbox',
    pods: [pod('app2-a', '10.42.0.5'), pod('app2-b', '10.42.0.6')],
    services: [{ metadata: { name: 'app2-service', namespace: 'default' }, spec: { type: 'ClusterIP', clusterIP: '10.43.10.20', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } }],
    endpointSlices: [
      {
        metadata: { name: 'app2-service-x', namespace: 'default', labels: { 'kubernetes.io/service-name': 'app2-service' } },
        endpoints: [
          { addresses: ['10.42.0.5'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'app2-a', namespace: 'default' } },
          { addresses: ['10.42.0.6'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'app2-b', namespace: 'default' } },
        ],
      },
    ],
    nodes: [{ metadata: { name: 'labs' }, spec: { podCIDR: '10.42.0.0/24' }, status: { addresses: [{ type: 'InternalIP', address: '192.168.56.110' }], conditions: [{ type: 'Ready', status: 'True' }] } }],
    ingresses: [],
    nat: parseIptablesSave(NAT),
    kernelNode: 'labs',
    veths: {},
    ...over,
  };
}

const A = { namespace: 'default', name: 'app2-a' };
const step = (s: Partial<CrashStepData>): CrashStepData => ({ at: 0, who: '', what: '', ...s });

describe("a crash step's elements on the picture", () => {
  const m = buildModel(input());
  it("the kubelet's: the pod and the node it runs on", () => {
    expect(crashLights(m, A, step({ step: 'kubelet', direction: 'out' }))).toEqual(['pod/default/app2-a', 'node/labs']);
  });
  it("the API's and an Event's: the pod", () => {
    expect(crashLights(m, A, step({ step: 'API' }))).toEqual(['pod/default/app2-a']);
    expect(crashLights(m, A, step({ step: 'event' }))).toEqual(['pod/default/app2-a']);
  });
  it("the endpoints controller's: the Service and its group's edge to the pod (the DNAT of its KUBE-SEP)", () => {
    expect(crashLights(m, A, step({ step: 'endpoints', service: 'default/app2-service' })).sort()).toEqual(['e/chain/KUBE-SEP-ONE->pod/default/app2-a', 'pod/default/app2-a', 'svc/default/app2-service'].sort());
  });
  it("kube-proxy's: the chains it named and the edges between them and to the pod; a chain no longer drawn is left out", () => {
    const lit = crashLights(m, A, step({ step: 'kube-proxy', direction: 'out', chains: ['KUBE-SVC-AAAA', 'KUBE-SEP-ONE'] }));
    expect(lit.sort()).toEqual(['chain/KUBE-SEP-ONE', 'chain/KUBE-SVC-AAAA', 'e/chain/KUBE-SEP-ONE->pod/default/app2-a', 'e/chain/KUBE-SVC-AAAA->chain/KUBE-SEP-ONE', 'pod/default/app2-a'].sort());
    const after = buildModel(input({ nat: parseIptablesSave(NAT.split('\n').filter((l) => !l.includes('KUBE-SEP-ONE')).join('\n')) }));
    expect(crashLights(after, A, step({ step: 'kube-proxy', direction: 'out', chains: ['KUBE-SVC-AAAA', 'KUBE-SEP-ONE'] })).sort()).toEqual(['chain/KUBE-SVC-AAAA', 'pod/default/app2-a']);
  });
  it("in nftables mode (no chain drawn): kube-proxy's step lights the Service's endpoint edge", () => {
    const nft = buildModel(input({ nat: parseIptablesSave('*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n') }));
    expect(nft.proxyMode).toBe('nftables');
    expect(crashLights(nft, A, step({ step: 'kube-proxy', chains: ['service-X-default/app2-service/tcp/http'] })).sort()).toEqual(['e/svc/default/app2-service->pod/default/app2-a', 'pod/default/app2-a', 'svc/default/app2-service']);
  });
});

describe('the pod in and out of its Service, and the round trip', () => {
  const out = [step({ step: 'kubelet', direction: 'out' }), step({ step: 'API', direction: 'out' }), step({ step: 'endpoints', direction: 'out' }), step({ step: 'kube-proxy', direction: 'out' })];
  const back = [step({ step: 'kubelet', direction: 'in' }), step({ step: 'event' }), step({ step: 'API', direction: 'in' }), step({ step: 'endpoints', direction: 'in' }), step({ step: 'kube-proxy', direction: 'in' })];
  it('out from the endpoint leaving until kube-proxy wrote it back', () => {
    expect(inService(out.slice(0, 2))).toBe(true);
    expect(inService(out.slice(0, 3))).toBe(false);
    expect(inService([...out, ...back.slice(0, 4)])).toBe(false);
    expect(inService([...out, ...back])).toBe(true);
  });
  it('the four roles in order, both ways', () => {
    expect(roundTrip(out)).toEqual({ out: true, back: false });
    expect(roundTrip([...out, ...back])).toEqual({ out: true, back: true });
    // kube-proxy before the endpoints controller is not the flow.
    expect(roundTrip([out[0]!, out[1]!, out[3]!, out[2]!])).toEqual({ out: false, back: false });
  });
  it('offsets from the kill', () => {
    expect(offsetText(15)).toBe('+15 ms');
    expect(offsetText(12_345)).toBe('+12.3 s');
  });
});
