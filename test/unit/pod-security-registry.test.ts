// The PodSecurity admission plugin on the registry's writes (src/api/server/pod-security.ts): a
// pod that violates its namespace's enforce level is refused with kube-apiserver's 403 and stored
// nowhere; a Deployment's template only earns the warn level's warning; the ReplicaSet controller
// records the refusal as FailedCreate, word for word as kube's.
import { afterEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/api/server/object.ts';
import { Registry } from '../../src/api/server/registry.ts';
import { resourceFor } from '../../src/api/server/resources.ts';
import { StatusError, type Status } from '../../src/api/server/status.ts';
import { KineStore } from '../../src/api/storage/kine.ts';
import { LocalClient } from '../../src/client/local.ts';
import type { KubeObject as ClientObject } from '../../src/client/types.ts';
import type { ReplicaSetObj } from '../../src/controllers/workloads.ts';
import { Cluster, REPLICASETS, SAFE, until } from './workload-fixtures.ts';

const NAMESPACES = resourceFor('', 'namespaces')!;
const PODS = resourceFor('', 'pods')!;
const DEPLOYMENTS = resourceFor('apps', 'deployments')!;

const HOSTPATH = { volumes: [{ name: 'host', hostPath: { path: '/srv' } }], containers: [{ name: 'c', image: 'busybox' }] };
const pod = (name: string, namespace: string, spec: object): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace }, spec }) as KubeObject;
const deployment = (name: string, namespace: string, spec: object): KubeObject =>
  ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace }, spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec } } }) as KubeObject;

function registry(): Registry {
  const reg = new Registry(new KineStore(':memory:'));
  reg.create(NAMESPACES, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } } as KubeObject);
  reg.create(NAMESPACES, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tools', labels: { 'pod-security.kubernetes.io/enforce': 'privileged', 'pod-security.kubernetes.io/warn': 'privileged' } } } as KubeObject);
  return reg;
}

function statusOf(fn: () => unknown): Status {
  try {
    fn();
  } catch (err) {
    if (err instanceof StatusError) return err.status;
    throw err;
  }
  throw new Error('expected a StatusError');
}

let c: Cluster | undefined;
afterEach(async () => {
  await c?.stop();
  c = undefined;
});

describe('PodSecurity admission on the registry', () => {
  it('refuses a pod violating baseline (the lab default) with 403 Forbidden, and stores nothing', () => {
    const reg = registry();
    const s = statusOf(() => reg.create(PODS, 'default', pod('web', 'default', { ...HOSTPATH, hostNetwork: true })));
    expect(s).toMatchObject({ code: 403, reason: 'Forbidden', details: { name: 'web', kind: 'pods' } });
    expect(s.message).toBe('pods "web" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true), hostPath volumes (volume "host")');
    expect(reg.list(PODS, 'default').items).toEqual([]);
  });

  it('judges a generated name after it is chosen; a privileged namespace takes the pod; a plain pod passes', () => {
    const reg = registry();
    const generated = { apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'web-', namespace: 'default' }, spec: HOSTPATH } as KubeObject;
    expect(statusOf(() => reg.create(PODS, 'default', generated)).message).toMatch(new RegExp(`^pods "web-${SAFE}{5}" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes \\(volume "host"\\)$`));
    expect(reg.create(PODS, 'tools', pod('reader', 'tools', HOSTPATH)).metadata.name).toBe('reader');
    expect(reg.create(PODS, 'default', pod('plain', 'default', { containers: [{ name: 'c', image: 'busybox' }] })).metadata.name).toBe('plain');
  });

  it('creates a violating Deployment with the warn level\'s warning (to the client\'s warning handler); none where warn is privileged', async () => {
    const reg = registry();
    const warnings: string[] = [];
    const client = new LocalClient(reg, { warningHandler: (w) => warnings.push(w) });
    await client.create({ group: 'apps', resource: 'deployments' }, deployment('hostnet', 'default', { hostNetwork: true, containers: [{ name: 'c', image: 'busybox' }] }) as ClientObject);
    expect(warnings).toEqual(['would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true)']);
    await client.create({ group: 'apps', resource: 'deployments' }, deployment('reader', 'tools', HOSTPATH) as ClientObject);
    expect(warnings).toHaveLength(1);
    expect(reg.admissionWarnings(DEPLOYMENTS, reg.get(DEPLOYMENTS, 'default', 'hostnet'))).toHaveLength(1);
    expect(reg.admissionWarnings(PODS, pod('web', 'default', HOSTPATH))).toEqual([]); // pods are refused, not warned about
  });

  it('the ReplicaSet controller records the refusal: Warning FailedCreate "Error creating: pods ... is forbidden: violates PodSecurity ..."', async () => {
    c = await Cluster.start({ deployments: false });
    const rs: ReplicaSetObj = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'web', namespace: 'default' },
      spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: HOSTPATH as never } },
    };
    await c.client.create(REPLICASETS, rs);
    const events = await until('FailedCreate', () => c!.events(), (l) => l.some((e) => e.reason === 'FailedCreate'));
    const e = events.find((x) => x.reason === 'FailedCreate')!;
    expect(e).toMatchObject({ type: 'Warning', source: { component: 'replicaset-controller' }, involvedObject: { kind: 'ReplicaSet', name: 'web' } });
    expect(e.message).toMatch(new RegExp(`^Error creating: pods "web-${SAFE}{5}" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes \\(volume "host"\\)$`));
    expect(await c.pods()).toEqual([]);
  });
});
