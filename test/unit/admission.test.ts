// Pod Security admission: each baseline check, the admission's wording and order, namespace levels,
// label validation, and what `lab up` warns about in the declared state.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  evaluatePod,
  forbiddenDetail,
  namespacePolicy,
  podSecurityLabelProblems,
  podSecurityWarnings,
  podTemplateWarnings,
  podViolation,
} from '../../src/api/admission.ts';
import { parseDesiredState } from '../../src/api/load.ts';
import type { Container, Deployment, PodSpec } from '../../src/api/types.ts';

const container = (name: string, extra: Partial<Container> = {}): Container => ({ name, image: 'busybox', env: [], ports: [], volumeMounts: [], ...extra });
const spec = (extra: Partial<PodSpec> = {}): PodSpec => ({ containers: [container('web')], volumes: [], restartPolicy: 'Always', terminationGracePeriodSeconds: 30, ...extra });
const hostPath = (name: string) => ({ name, hostPath: { path: `/srv/${name}` } });
const ENFORCE = 'pod-security.kubernetes.io/enforce';
const WARN = 'pod-security.kubernetes.io/warn';
const PRIVILEGED = { [ENFORCE]: 'privileged' };

describe('baseline checks', () => {
  it('passes an ordinary pod, and a pod adding only capabilities of the default set', () => {
    expect(evaluatePod('baseline', spec())).toEqual([]);
    const ok = spec({ containers: [container('web', { securityContext: { capabilities: { add: ['NET_BIND_SERVICE', 'CHOWN', 'KILL'], drop: ['ALL'] } } })] });
    expect(evaluatePod('baseline', ok)).toEqual([]);
    expect(evaluatePod('baseline', spec({ hostNetwork: false, containers: [container('web', { securityContext: { privileged: false } })] }))).toEqual([]);
  });

  it('host namespaces: each one named, in the order hostNetwork, hostPID, hostIPC', () => {
    expect(evaluatePod('baseline', spec({ hostNetwork: true }))).toEqual([{ reason: 'host namespaces', detail: 'hostNetwork=true' }]);
    expect(evaluatePod('baseline', spec({ hostIPC: true, hostPID: true, hostNetwork: true }))).toEqual([{ reason: 'host namespaces', detail: 'hostNetwork=true, hostPID=true, hostIPC=true' }]);
  });

  it('hostPath volumes: volume or volumes, in declaration order', () => {
    expect(evaluatePod('baseline', spec({ volumes: [hostPath('x')] }))).toEqual([{ reason: 'hostPath volumes', detail: 'volume "x"' }]);
    const two = spec({ volumes: [hostPath('data'), { name: 'tmp', emptyDir: {} }, hostPath('conf')] });
    expect(evaluatePod('baseline', two)).toEqual([{ reason: 'hostPath volumes', detail: 'volumes "data", "conf"' }]);
  });

  it('privileged: the containers that set it', () => {
    const one = spec({ containers: [container('a', { securityContext: { privileged: true } }), container('b')] });
    expect(evaluatePod('baseline', one)).toEqual([{ reason: 'privileged', detail: 'container "a" must not set securityContext.privileged=true' }]);
    const two = spec({ containers: [container('a', { securityContext: { privileged: true } }), container('b', { securityContext: { privileged: true } })] });
    expect(evaluatePod('baseline', two)[0]!.detail).toBe('containers "a", "b" must not set securityContext.privileged=true');
  });

  it('non-default capabilities: the containers in order, the capabilities sorted and once each', () => {
    const s = spec({
      containers: [
        container('b', { securityContext: { capabilities: { add: ['SYS_TIME', 'NET_ADMIN', 'CHOWN'] } } }),
        container('c'),
        container('a', { securityContext: { capabilities: { add: ['NET_ADMIN', 'ALL'] } } }),
      ],
    });
    expect(evaluatePod('baseline', s)).toEqual([{ reason: 'non-default capabilities', detail: 'containers "b", "a" must not include "ALL", "NET_ADMIN", "SYS_TIME" in securityContext.capabilities.add' }]);
    const one = spec({ containers: [container('web', { securityContext: { capabilities: { add: ['NET_RAW'] } } })] });
    expect(forbiddenDetail(evaluatePod('baseline', one))).toBe('non-default capabilities (container "web" must not include "NET_RAW" in securityContext.capabilities.add)');
  });

  it('reports every failed check in the admission order (check IDs sorted), joined as the admission joins them', () => {
    const s = spec({
      hostPID: true,
      volumes: [hostPath('x')],
      containers: [container('web', { securityContext: { privileged: true, capabilities: { add: ['NET_ADMIN'] } } })],
    });
    expect(evaluatePod('baseline', s).map((r) => r.reason)).toEqual(['non-default capabilities', 'host namespaces', 'hostPath volumes', 'privileged']);
    expect(forbiddenDetail(evaluatePod('baseline', s))).toBe(
      'non-default capabilities (container "web" must not include "NET_ADMIN" in securityContext.capabilities.add), host namespaces (hostPID=true), hostPath volumes (volume "x"), privileged (container "web" must not set securityContext.privileged=true)',
    );
  });

  it('privileged level checks nothing', () => {
    expect(evaluatePod('privileged', spec({ hostNetwork: true, volumes: [hostPath('x')] }))).toEqual([]);
  });
});

describe('namespace policy', () => {
  it('defaults to baseline:latest for enforce, audit and warn', () => {
    expect(namespacePolicy({})).toEqual({
      enforce: { level: 'baseline', version: 'latest' },
      audit: { level: 'baseline', version: 'latest' },
      warn: { level: 'baseline', version: 'latest' },
    });
  });

  it('takes each mode from its label; an unlabelled warn stays at its default unless enforce is stricter', () => {
    expect(namespacePolicy(PRIVILEGED)).toMatchObject({ enforce: { level: 'privileged' }, warn: { level: 'baseline', version: 'latest' } });
    expect(namespacePolicy({ [ENFORCE]: 'privileged', [WARN]: 'privileged' }).warn.level).toBe('privileged');
    // enforce stricter than warn's default: warn follows enforce, version included.
    const lowWarn = { enforce: { level: 'privileged', version: 'latest' }, audit: { level: 'privileged', version: 'latest' }, warn: { level: 'privileged', version: 'latest' } } as const;
    expect(namespacePolicy({ [ENFORCE]: 'baseline', 'pod-security.kubernetes.io/enforce-version': 'v1.29' }, lowWarn).warn).toEqual({ level: 'baseline', version: 'v1.29' });
    expect(namespacePolicy({ [ENFORCE]: 'baseline', [WARN]: 'privileged' }, lowWarn).warn.level).toBe('privileged');
  });

  it('shows the version label in messages', () => {
    const r = podViolation(spec({ volumes: [hostPath('x')] }), { [ENFORCE]: 'baseline', 'pod-security.kubernetes.io/enforce-version': 'v1.30' });
    expect(r).toBe('violates PodSecurity "baseline:v1.30": hostPath volumes (volume "x")');
  });

  it('validates the labels as the admission does when a Namespace is created', () => {
    expect(podSecurityLabelProblems({ [ENFORCE]: 'privileged', [WARN]: 'baseline', 'pod-security.kubernetes.io/audit-version': 'v1.25', app: 'x' })).toEqual([]);
    expect(podSecurityLabelProblems({ [ENFORCE]: 'Privileged' })).toEqual([{ label: ENFORCE, message: '"Privileged" must be one of privileged, baseline, restricted' }]);
    expect(podSecurityLabelProblems({ 'pod-security.kubernetes.io/warn-version': '1.29' })).toEqual([{ label: 'pod-security.kubernetes.io/warn-version', message: '"1.29" must be "latest" or "v1.x"' }]);
    expect(podSecurityLabelProblems({ [ENFORCE]: 'restricted' })[0]!.message).toMatch(/^"restricted" is a level the lab does not enforce: .*seccompProfile/);
    expect(podSecurityLabelProblems({ 'pod-security.kubernetes.io/enforced': 'privileged' })[0]!.message).toMatch(/^unknown Pod Security label; the admission reads enforce, enforce-version, audit/);
  });
});

describe('pod violations and template warnings', () => {
  const bad = spec({ hostNetwork: true, volumes: [hostPath('x')] });

  it('refuses a pod violating the enforce level with the API server message', () => {
    expect(podViolation(bad, {})).toBe('violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true), hostPath volumes (volume "x")');
    expect(podViolation(spec(), {})).toBeUndefined();
    expect(podViolation(bad, PRIVILEGED)).toBeUndefined();
  });

  it('warns about a template at the warn level, as kubectl prints it', () => {
    expect(podTemplateWarnings(bad, {})).toEqual(['would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true), hostPath volumes (volume "x")']);
    expect(podTemplateWarnings(spec(), {})).toEqual([]);
    // enforce privileged alone leaves warn at the cluster default: admitted, and still warned about.
    expect(podTemplateWarnings(bad, PRIVILEGED)).toHaveLength(1);
    expect(podTemplateWarnings(bad, { ...PRIVILEGED, [WARN]: 'privileged' })).toEqual([]);
  });
});

function deployment(name: string, namespace: string, podSpec: PodSpec, replicas = 3): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels: {}, annotations: {} },
    spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name }, annotations: {} }, spec: podSpec } },
    source: { file: 'lab/cluster.yaml', line: 7 },
  };
}

describe('warnings of the declared Deployments', () => {
  it('names file and object', () => {
    const d = deployment('web', 'default', spec({ volumes: [hostPath('data')] }));
    expect(podSecurityWarnings({ deployments: [d, deployment('ok', 'default', spec())], namespaceLabels: {} })).toEqual([
      'Warning: lab/cluster.yaml:7: Deployment default/web: would violate PodSecurity "baseline:latest": hostPath volumes (volume "data")',
    ]);
  });
});

const HOSTPATH_WEB = (namespace: string) => `
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ${namespace}
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: busybox
          command: ["httpd", "-f", "-p", "80"]
          securityContext:
            allowPrivilegeEscalation: false
            capabilities:
              drop: ["ALL"]
              add: ["NET_BIND_SERVICE"]
            runAsUser: 1000
            runAsGroup: 1000
            runAsNonRoot: true
            readOnlyRootFilesystem: true
          volumeMounts:
            - name: data
              mountPath: /data
              readOnly: true
      volumes:
        - name: data
          hostPath:
            path: /srv/data
`;
const TOOLS = `
---
apiVersion: v1
kind: Namespace
metadata:
  name: tools
  labels:
    pod-security.kubernetes.io/enforce: privileged
`;

describe('Pod Security over the declared state', () => {
  const system = readFileSync('lab/system.yaml', 'utf8').replace(/\$\(LAB_[A-Z_]+\)/g, (m) => (m === '$(LAB_CLUSTER_DNS)' ? '10.43.0.10' : '/x'));
  const load = (extra: string) =>
    parseDesiredState({ stateText: readFileSync('lab/cluster.yaml', 'utf8') + extra, statePath: 'lab/cluster.yaml', hostname: 'h', systemPods: 0, extraStates: [{ text: system, path: 'lab/system.yaml' }] });

  it('accepts a Deployment whose template violates baseline, parses its securityContext, and warns about it', () => {
    const d = load(HOSTPATH_WEB('default'));
    const web = d.deployments.find((x) => x.metadata.name === 'web')!;
    expect(web.spec.template.spec.containers[0]!.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
      runAsUser: 1000,
      runAsGroup: 1000,
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
    });
    expect(podSecurityWarnings(d)).toEqual([`Warning: lab/cluster.yaml:${web.source.line}: Deployment default/web: would violate PodSecurity "baseline:latest": hostPath volumes (volume "data")`]);
    // Its pods are refused in default (baseline), every other Deployment's admitted.
    const refused = d.deployments.filter((x) => podViolation(x.spec.template.spec, d.namespaceLabels[x.metadata.namespace] ?? {}));
    expect(refused.map((x) => x.metadata.name)).toEqual(['web']);
  });

  it('kube-system is privileged (lab/system.yaml): the system pods and their hostPath volumes are admitted without a warning', () => {
    const d = load('');
    expect(d.namespaceLabels['kube-system']).toMatchObject({ [ENFORCE]: 'privileged', [WARN]: 'privileged' });
    const system = d.deployments.filter((x) => x.metadata.namespace === 'kube-system');
    expect(system.map((x) => x.metadata.name).sort()).toEqual(['coredns', 'ingress-nginx-controller']);
    expect(system.every((x) => x.spec.template.spec.volumes.some((v) => v.hostPath))).toBe(true);
    expect(d.deployments.filter((x) => podViolation(x.spec.template.spec, d.namespaceLabels[x.metadata.namespace] ?? {}))).toEqual([]);
    expect(podSecurityWarnings(d)).toEqual([]);
  });

  it('a namespace labelled enforce: privileged admits hostPath (and still warns at the default warn level)', () => {
    const d = load(TOOLS + HOSTPATH_WEB('tools'));
    expect(d.deployments.filter((x) => podViolation(x.spec.template.spec, d.namespaceLabels[x.metadata.namespace] ?? {}))).toEqual([]);
    expect(podSecurityWarnings(d)).toEqual([expect.stringMatching(/^Warning: lab\/cluster\.yaml:\d+: Deployment tools\/web: would violate PodSecurity "baseline:latest": hostPath volumes \(volume "data"\)$/)]);
  });

  it('hostNetwork in a baseline namespace is accepted at load and refused at admission', () => {
    const d = load(HOSTPATH_WEB('default').replace('      containers:', '      hostNetwork: true\n      containers:'));
    const web = d.deployments.find((x) => x.metadata.name === 'web')!;
    expect(podViolation(web.spec.template.spec, d.namespaceLabels.default ?? {})).toMatch(/^violates PodSecurity "baseline:latest": host namespaces \(hostNetwork=true\), hostPath volumes \(volume "data"\)$/);
  });
});
