// The lab finds its own system pods (ingress controller, cluster DNS) by owner, never by labels:
// a user's Deployment in kube-system with the ingress controller's labels is not the ingress.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDesiredState } from '../../src/api/load.ts';
import { isSystemPod, OWNER_DEPLOYMENT_ANNOTATION } from '../../src/api/owners.ts';
import type { Pod } from '../../src/api/types.ts';

const system = readFileSync('lab/system.yaml', 'utf8')
  .replace(/\$\(LAB_CLUSTER_DNS\)/g, '10.43.0.10')
  .replace(/\$\(LAB_[A-Z_]+\)/g, '/run/packet-path-lab/lab');

/** A user's Deployment in kube-system copying the ingress controller's labels (and trying its owner annotation). */
const IMPOSTOR = `
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ingress-nginx-impostor
  namespace: kube-system
  labels:
    app.kubernetes.io/name: ingress-nginx
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: ingress-nginx
  template:
    metadata:
      labels:
        app.kubernetes.io/name: ingress-nginx
        k8s-app: kube-dns
      annotations:
        lab/deployment: ingress-nginx-controller
    spec:
      containers:
        - name: controller
          image: busybox
          command: ["httpd", "-f", "-p", "80"]
`;

function load(stateText: string) {
  return parseDesiredState({ stateText, statePath: 'lab/cluster.yaml', configText: readFileSync('lab/config.yaml', 'utf8'), configPath: 'lab/config.yaml', hostname: 'h', systemPods: 0, extraStates: [{ text: system, path: 'lab/system.yaml' }] });
}

describe('system pods by owner', () => {
  it('the pods of lab/system.yaml are the system pods; a user pod with copied labels and annotation is not', () => {
    // The user's Deployment comes first, as the state file's objects do: its pod is created first.
    const desired = load(readFileSync('lab/cluster.yaml', 'utf8') + IMPOSTOR);
    // One pod per Deployment, its owner stamped as the tools' view of the API has it (trace/api-view.ts:
    // the Deployment found through the pod's controlling ReplicaSet, over any copied annotation).
    const pods = desired.deployments.map((d, i): Pod => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `${d.metadata.name}-5d4f8c7b9${i}-ab${i}de`, namespace: d.metadata.namespace, labels: { ...d.spec.template.metadata.labels }, annotations: { ...d.spec.template.metadata.annotations, [OWNER_DEPLOYMENT_ANNOTATION]: d.metadata.name } },
      spec: d.spec.template.spec,
      status: { phase: 'Running', conditions: [], containerStatuses: [] },
    }));
    const impostor = pods.filter((p) => p.metadata.name.startsWith('ingress-nginx-impostor-'));
    expect(impostor).toHaveLength(1);
    expect(impostor[0]!.metadata.labels['app.kubernetes.io/name']).toBe('ingress-nginx');
    expect(impostor[0]!.metadata.annotations['lab/deployment']).toBe('ingress-nginx-impostor'); // the owner, stamped over the template's
    expect(pods.filter((p) => isSystemPod(p, 'ingress')).map((p) => p.metadata.name)).toEqual([expect.stringMatching(/^ingress-nginx-controller-[a-z0-9]+-[a-z0-9]{5}$/)]);
    expect(pods.filter((p) => isSystemPod(p, 'dns')).map((p) => p.metadata.name)).toEqual([expect.stringMatching(/^coredns-/)]);
    expect(pods.find((p) => p.metadata.labels['app.kubernetes.io/name'] === 'ingress-nginx')).toBe(impostor[0]); // what a label search found
  });

  it('a user cannot declare the system Deployment itself: the same namespace/name is a duplicate', () => {
    const same = IMPOSTOR.replace('name: ingress-nginx-impostor', 'name: ingress-nginx-controller');
    expect(() => load(readFileSync('lab/cluster.yaml', 'utf8') + same)).toThrow(/Deployment kube-system\/ingress-nginx-controller: metadata\.name: duplicate object/);
  });

  it('a pod in another namespace owned by a Deployment of the same name is not a system pod', () => {
    const pod = { metadata: { name: 'coredns-x-abcde', namespace: 'default', labels: { 'k8s-app': 'kube-dns' }, annotations: { 'lab/deployment': 'coredns' } } };
    expect(isSystemPod(pod as never, 'dns')).toBe(false);
  });
});
