// The manifests applier's planner (src/controllers/manifests.ts): k3s's deploy-controller rules.
import { describe, expect, it } from 'vitest';
import { parseDesiredState } from '../../src/api/load.ts';
import { Registry } from '../../src/api/server/registry.ts';
import { KineStore } from '../../src/api/storage/kine.ts';
import { LocalClient } from '../../src/client/local.ts';
import { addonHash, applyAddon, APPLIED, decodeApplied, HASH_LABEL, mergeDiff, notAppliedFrom, OWNER_NAME, planApply, type Manifest } from '../../src/controllers/manifests.ts';
import type { KubeObject } from '../../src/client/types.ts';

const FILE = `apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: page
  namespace: shop
data:
  index.html: hello
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: { app: web }
  template:
    metadata:
      labels: { app: web }
    spec:
      containers:
        - name: web
          image: busybox
`;

const manifests = (text: string): Manifest[] => parseDesiredState({ stateText: text, statePath: 'lab/cluster.yaml', hostname: 'labs' }).manifests;

/** What the API would hold after the plan's create (a uid and version added). */
const created = (o: KubeObject, rv: string): KubeObject => ({ ...o, metadata: { ...o.metadata, uid: `uid-${o.metadata.name}`, resourceVersion: rv } });

function applyMerge(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMerge(out[k], v);
  }
  return out;
}

describe('planApply', () => {
  it('the validated file\'s objects as written, in order, with where each is', () => {
    const ms = manifests(FILE);
    expect(ms.map((m) => `${m.source.file}:${m.source.line} ${String(m.object.kind)}`)).toEqual(['lab/cluster.yaml:1 Namespace', 'lab/cluster.yaml:6 ConfigMap', 'lab/cluster.yaml:14 Deployment']);
    // as written: no defaults filled in
    expect((ms[2]!.object.spec as Record<string, unknown>).strategy).toBeUndefined();
  });

  it('creates what is not there, namespaces first, with the addon\'s label and annotations', () => {
    const plan = planApply('cluster', manifests(FILE).reverse(), []);
    expect(plan.create.map((c) => `${c.kind} ${c.namespace ?? ''}/${c.name}`)).toEqual(['Namespace /shop', 'Deployment default/web', 'ConfigMap shop/page']);
    const web = plan.create[1]!.object;
    expect(web.metadata.namespace).toBe('default');
    expect(web.metadata.labels?.[HASH_LABEL]).toBe(addonHash('cluster'));
    expect(web.metadata.annotations?.[OWNER_NAME]).toBe('cluster');
    expect(decodeApplied(web.metadata.annotations?.[APPLIED])).toMatchObject({ kind: 'Deployment', metadata: { name: 'web', namespace: 'default' }, spec: { replicas: 2 } });
    expect(plan.patch).toEqual([]);
    expect(plan.delete).toEqual([]);
  });

  it('changes nothing when the file did not change, and keeps what kubectl changed', () => {
    const first = planApply('cluster', manifests(FILE), []);
    const live = first.create.map((c, i) => created(c.object, String(10 + i)));
    // kubectl scale: replicas 5 in the live Deployment
    const scaled = live.map((o) => (o.kind === 'Deployment' ? { ...o, spec: { ...(o as unknown as { spec: object }).spec, replicas: 5 } } : o));
    expect(planApply('cluster', manifests(FILE), scaled)).toEqual({ create: [], patch: [], delete: [] });
  });

  it('patches only what the file changed (three-way), and deletes what left the file', () => {
    const first = planApply('cluster', manifests(FILE), []);
    const live = first.create.map((c, i) => created(c.object, String(10 + i)));
    const deploy = live.find((o) => o.kind === 'Deployment')! as KubeObject & { spec: Record<string, unknown> };
    deploy.spec.replicas = 5; // kubectl scale
    deploy.metadata.labels = { ...deploy.metadata.labels, team: 'a' }; // kubectl label
    const edited = FILE.replace('image: busybox', 'image: busybox\n          args: ["httpd"]').split('---\napiVersion: v1\nkind: ConfigMap')[0]! + '---\n' + FILE.split('---\n')[2]!.replace('image: busybox', 'image: busybox\n          args: ["httpd"]');
    const plan = planApply('cluster', manifests(edited), live);
    expect(plan.create).toEqual([]);
    expect(plan.delete.map((d) => `${d.kind} ${d.namespace}/${d.name}`)).toEqual(['ConfigMap shop/page']);
    expect(plan.patch).toHaveLength(1);
    const p = plan.patch[0]!;
    expect(p.kind).toBe('Deployment');
    // the containers list (changed in the file) is replaced; replicas (not changed in the file) is not touched
    expect(p.patch.spec).toEqual({ template: { spec: { containers: [{ name: 'web', image: 'busybox', args: ['httpd'] }] } } });
    expect(Object.keys((p.patch.metadata as { annotations: object }).annotations)).toEqual([APPLIED]);
    const after = applyMerge(deploy, p.patch) as KubeObject & { spec: { replicas: number } };
    expect(after.spec.replicas).toBe(5);
    expect(after.metadata.labels).toMatchObject({ team: 'a', [HASH_LABEL]: addonHash('cluster') });
    // applied again: nothing more to do
    expect(planApply('cluster', manifests(edited), [after, ...live.filter((o) => o.kind === 'Namespace')]).patch).toEqual([]);
  });

  it('takes over an object someone else created with the same name: every field of the file patched in', () => {
    const theirs: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'page', namespace: 'shop', uid: 'x', resourceVersion: '3' } };
    (theirs as unknown as { data: object }).data = { 'index.html': 'old', extra: 'kept' };
    const plan = planApply('cluster', manifests(FILE).slice(1, 2), [], [theirs]);
    expect(plan.create).toEqual([]);
    const after = applyMerge(theirs, plan.patch[0]!.patch) as { data: object; metadata: KubeObject['metadata'] };
    expect(after.data).toEqual({ 'index.html': 'hello', extra: 'kept' });
    expect(after.metadata.annotations?.[OWNER_NAME]).toBe('cluster');
  });

  it('mergeDiff: null for a removed key, nested objects diffed, lists replaced whole', () => {
    expect(mergeDiff({ a: 1, b: { c: 1, d: 2 }, l: [1, 2] }, { b: { c: 1, d: 3 }, l: [1], e: 'x' })).toEqual({ b: { d: 3 }, l: [1], e: 'x', a: null });
    expect(mergeDiff({ a: { b: 1 } }, { a: { b: 1 } })).toEqual({});
  });
});

describe('applyAddon, against the registry', () => {
  const DEPLOY = { group: 'apps', resource: 'deployments' };
  const setup = async () => {
    const client = new LocalClient(new Registry(new KineStore(':memory:')));
    await client.create({ group: '', resource: 'namespaces' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
    return client;
  };
  type Deploy = KubeObject & { spec: { replicas: number; template: { spec: { containers: { image: string }[] } } } };

  it('creates the file\'s objects, keeps a kubectl scale across an unrelated edit, deletes what left the file', async () => {
    const client = await setup();
    const first = await applyAddon(client, 'cluster', manifests(FILE));
    expect(first.created).toEqual(['lab/cluster.yaml:1: Namespace shop', 'lab/cluster.yaml:6: ConfigMap shop/page', 'lab/cluster.yaml:14: Deployment default/web']);
    expect(await applyAddon(client, 'cluster', manifests(FILE))).toEqual({ created: [], patched: [], deleted: [], warnings: [] });
    await client.mutate<Deploy>(DEPLOY, 'default', 'web', (d) => ({ ...d, spec: { ...d.spec, replicas: 5 } }));
    const edited = FILE.replace('index.html: hello', 'index.html: bye').replace('image: busybox', 'image: busybox:1.36');
    const second = await applyAddon(client, 'cluster', manifests(edited));
    expect(second.patched).toEqual(['lab/cluster.yaml:6: ConfigMap shop/page', 'lab/cluster.yaml:14: Deployment default/web']);
    const web = await client.get<Deploy>(DEPLOY, 'default', 'web');
    expect(web.spec.replicas).toBe(5);
    expect(web.spec.template.spec.containers[0]!.image).toBe('busybox:1.36');
    const third = await applyAddon(client, 'cluster', manifests(edited.split('---\n').filter((d) => !d.includes('kind: ConfigMap')).join('---\n')));
    expect(third.deleted).toEqual(['ConfigMap shop/page']);
    await expect(client.get({ group: '', resource: 'configmaps' }, 'shop', 'page')).rejects.toThrow('not found');
  });

  it("a template's nodeSelector reaches the API's Deployment, and an edit of it is patched in", async () => {
    const client = await setup();
    type Selected = KubeObject & { spec: { template: { spec: { nodeSelector?: Record<string, string> } } } };
    const selecting = (sel: string) => FILE.replace('    spec:\n      containers:', `    spec:\n      nodeSelector: ${sel}\n      containers:`);
    await applyAddon(client, 'cluster', manifests(selecting('{ disk: ssd }')));
    expect((await client.get<Selected>(DEPLOY, 'default', 'web')).spec.template.spec.nodeSelector).toEqual({ disk: 'ssd' });
    const out = await applyAddon(client, 'cluster', manifests(selecting('{ kubernetes.io/hostname: labsw }')));
    expect(out.patched).toEqual(['lab/cluster.yaml:14: Deployment default/web']);
    expect((await client.get<Selected>(DEPLOY, 'default', 'web')).spec.template.spec.nodeSelector).toEqual({ 'kubernetes.io/hostname': 'labsw' });
  });

  it("tells whether a live Deployment is the file's as applied (lab up waits on it), whatever kubectl scaled", async () => {
    const client = await setup();
    const web = (text: string) => manifests(text).find((m) => m.object.kind === 'Deployment')!;
    const edited = FILE.replace('image: busybox', 'image: busybox:1.36');
    await client.create(DEPLOY, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default' }, spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'busybox' }] } } } });
    expect(notAppliedFrom(web(FILE), await client.get<Deploy>(DEPLOY, 'default', 'web'))).toBe('not applied from the state files yet');
    await applyAddon(client, 'cluster', manifests(FILE));
    await client.mutate<Deploy>(DEPLOY, 'default', 'web', (d) => ({ ...d, spec: { ...d.spec, replicas: 5 } }));
    expect(notAppliedFrom(web(FILE), await client.get<Deploy>(DEPLOY, 'default', 'web'))).toBeNull();
    expect(notAppliedFrom(web(edited), await client.get<Deploy>(DEPLOY, 'default', 'web'))).toBe('not yet as the state files say (the server applies them)');
    await applyAddon(client, 'cluster', manifests(edited));
    expect(notAppliedFrom(web(edited), await client.get<Deploy>(DEPLOY, 'default', 'web'))).toBeNull();
  });

  it('labels a namespace that exists already before creating in it, and names file and object in the API server\'s warnings', async () => {
    const registry = new Registry(new KineStore(':memory:'));
    const warnings: string[] = [];
    const client = new LocalClient(registry, { warningHandler: (w) => warnings.push(w) });
    // The API server made kube-system itself (bootstrap), without the file's labels.
    await client.create({ group: '', resource: 'namespaces' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'sys' } });
    const deploy = (ns: string, line: number): Manifest => ({
      object: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'agent', namespace: ns }, spec: { selector: { matchLabels: { app: 'agent' } }, template: { metadata: { labels: { app: 'agent' } }, spec: { hostNetwork: true, containers: [{ name: 'c', image: 'busybox' }] } } } },
      source: { file: 'lab/system.yaml', line },
    });
    const ns: Manifest = { object: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'sys', labels: { 'pod-security.kubernetes.io/warn': 'privileged' } } }, source: { file: 'lab/system.yaml', line: 1 } };
    const out = await applyAddon(client, 'system', [ns, deploy('sys', 8)], () => warnings.splice(0));
    expect(out.patched).toEqual(['lab/system.yaml:1: Namespace sys']);
    expect(out.warnings).toEqual([]);
    await client.create({ group: '', resource: 'namespaces' }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
    const warned = await applyAddon(client, 'cluster', [deploy('default', 3)], () => warnings.splice(0));
    expect(warned.warnings).toEqual(['Warning: lab/system.yaml:3: Deployment default/agent: would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true)']);
  });

  it('leaves alone objects that carry its label only because a controller copied it (Endpoints, slices of its Services)', async () => {
    const client = await setup();
    await applyAddon(client, 'cluster', manifests(FILE));
    // What the endpoints and EndpointSlice controllers write: the Service's labels, hash included, no owner annotations.
    const copied = { [HASH_LABEL]: addonHash('cluster'), app: 'web' };
    await client.create({ group: '', resource: 'endpoints' }, { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'web', namespace: 'default', labels: copied } });
    await client.create({ group: 'discovery.k8s.io', resource: 'endpointslices' }, { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-abcde', namespace: 'default', labels: copied }, addressType: 'IPv4', endpoints: [] } as KubeObject);
    expect(await applyAddon(client, 'cluster', manifests(FILE))).toMatchObject({ created: [], patched: [], deleted: [] });
    await client.get({ group: '', resource: 'endpoints' }, 'default', 'web');
    await client.get({ group: 'discovery.k8s.io', resource: 'endpointslices' }, 'default', 'web-abcde');
  });

  it('names the file, line and object when the API refuses one', async () => {
    const client = await setup();
    const ghost: Manifest = { object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'ghost' } }, source: { file: 'lab/cluster.yaml', line: 3 } };
    await expect(applyAddon(client, 'cluster', [ghost])).rejects.toThrow('lab/cluster.yaml:3: ConfigMap ghost/x: namespaces "ghost" not found');
  });
});
