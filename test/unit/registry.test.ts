// The API server's generic registry over the kine store: kube-apiserver's REST semantics and
// Status errors, word for word.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/api/server/object.ts';
import { Registry, type RegistryOptions } from '../../src/api/server/registry.ts';
import type { WatchEvent } from '../../src/api/server/registry-watch.ts';
import { resolveResourceName, resourceFor, RESOURCES, storageKey, storagePrefix, type ResourceInfo } from '../../src/api/server/resources.ts';
import { fieldErrors, StatusError, type Status } from '../../src/api/server/status.ts';
import { KineStore } from '../../src/api/storage/kine.ts';

const T0 = Date.parse('2026-11-28T06:30:00Z');
const R = (group: string, plural: string): ResourceInfo => resourceFor(group, plural)!;
const NAMESPACES = R('', 'namespaces');
const PODS = R('', 'pods');
const SERVICES = R('', 'services');
const CONFIGMAPS = R('', 'configmaps');
const ENDPOINTS = R('', 'endpoints');
const NODES = R('', 'nodes');
const DEPLOYMENTS = R('apps', 'deployments');
const REPLICASETS = R('apps', 'replicasets');
const LEASES = R('coordination.k8s.io', 'leases');

const SUBDOMAIN =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1035 =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const CONFLICT = 'the object has been modified; please apply your changes to the latest version and try again';

/** The Status of the StatusError fn throws. */
function statusOf(fn: () => unknown): Status {
  try {
    fn();
  } catch (err) {
    if (err instanceof StatusError) return err.status;
    throw err;
  }
  throw new Error('expected a StatusError');
}

let clock = T0;
let store: KineStore;
let reg: Registry;

// These tests are about the generic REST semantics and use skeletal Deployments and Pods; the
// kinds' own validation (validate-*.ts) is off here and tested in api-validation.test.ts.
const SKELETAL: RegistryOptions['strategies'] = { pods: { validate: () => [] }, deployments: { validate: () => [] }, replicasets: { validate: () => [] } };

function fresh(opts: RegistryOptions = {}): void {
  store?.close();
  store = new KineStore(':memory:');
  reg = new Registry(store, { now: () => clock, ...opts, strategies: { ...SKELETAL, ...opts.strategies } });
  reg.create(NAMESPACES, undefined, { metadata: { name: 'default' } });
}

const pod = (name: string, extra: Partial<KubeObject> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: { app: 'web' } },
  spec: { nodeName: 'labs', terminationGracePeriodSeconds: 30, containers: [{ name: 'c', image: 'busybox' }] },
  ...extra,
});

beforeEach(() => {
  clock = T0;
  fresh();
});
afterEach(() => store.close());

describe('the resource table', () => {
  it("has kube's names, short names, categories, verbs and subresources", () => {
    expect(RESOURCES.map((r) => r.plural).sort()).toEqual(
      ['configmaps', 'deployments', 'endpoints', 'endpointslices', 'events', 'ingressclasses', 'ingresses', 'leases', 'namespaces', 'nodes', 'pods', 'replicasets', 'services'].sort(),
    );
    expect(PODS).toMatchObject({ group: '', version: 'v1', kind: 'Pod', singular: 'pod', namespaced: true, shortNames: ['po'], categories: ['all'] });
    expect(PODS.subresources.map((s) => s.name)).toEqual(['attach', 'binding', 'exec', 'log', 'portforward', 'status']);
    expect(DEPLOYMENTS.subresources.find((s) => s.name === 'scale')).toMatchObject({ kind: 'Scale', group: 'autoscaling', version: 'v1' });
    expect(NAMESPACES.verbs).not.toContain('deletecollection');
    expect(NAMESPACES.subresources.map((s) => s.name)).toEqual(['finalize', 'status']);
    expect(R('networking.k8s.io', 'ingresses').shortNames).toEqual(['ing']);
    expect(R('networking.k8s.io', 'ingresses').categories).toEqual([]);
    expect(RESOURCES.filter((r) => r.categories.includes('all')).map((r) => r.plural)).toEqual(['pods', 'services', 'deployments', 'replicasets']);
    expect(resolveResourceName('deploy')).toEqual([DEPLOYMENTS]);
    expect(resolveResourceName('Endpoints')).toEqual([ENDPOINTS]);
  });

  it("keeps each resource under kube-apiserver's etcd key", () => {
    expect(storageKey(PODS, 'default', 'app2-x')).toBe('/registry/pods/default/app2-x');
    expect(storageKey(NODES, undefined, 'labs')).toBe('/registry/minions/labs');
    expect(storageKey(SERVICES, 'default', 'x')).toBe('/registry/services/specs/default/x');
    expect(storageKey(ENDPOINTS, 'default', 'x')).toBe('/registry/services/endpoints/default/x');
    expect(storageKey(R('networking.k8s.io', 'ingresses'), 'default', 'x')).toBe('/registry/ingress/default/x');
    expect(storageKey(NAMESPACES, undefined, 'default')).toBe('/registry/namespaces/default');
    expect(storagePrefix(PODS)).toBe('/registry/pods/');
    expect(storagePrefix(PODS, 'kube-system')).toBe('/registry/pods/kube-system/');
  });
});

describe('create', () => {
  it('stores the object with uid, creationTimestamp and its revision as resourceVersion', () => {
    const created = reg.create(PODS, 'default', pod('web-1'));
    expect(created.metadata).toMatchObject({ name: 'web-1', namespace: 'default', resourceVersion: String(store.currentRevision()), creationTimestamp: '2026-11-28T06:30:00Z' });
    expect(created.metadata.uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(created.metadata.generation).toBeUndefined(); // pods have no generation before v1.33
    expect(created.status).toEqual({ phase: 'Pending', qosClass: 'BestEffort' });
    // The stored JSON has no resourceVersion: it comes from the row's id on every read.
    const stored = JSON.parse(store.get('/registry/pods/default/web-1')!.value.toString());
    expect(stored.metadata.resourceVersion).toBeUndefined();
    expect(stored.metadata.uid).toBe(created.metadata.uid);
    expect(reg.get(PODS, 'default', 'web-1')).toEqual(created);
  });

  it('sets generation 1 where kube tracks it and resets status', () => {
    const d = reg.create(DEPLOYMENTS, 'default', { metadata: { name: 'app2', generation: 7 }, spec: { replicas: 3 }, status: { replicas: 9 } });
    expect(d).toMatchObject({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { generation: 1 }, status: {} });
    const cm = reg.create(CONFIGMAPS, 'default', { metadata: { name: 'c', generation: 4 } });
    expect(cm.metadata.generation).toBeUndefined();
  });

  it('fills a namespace as the namespace strategy does', () => {
    const ns = reg.create(NAMESPACES, undefined, { metadata: { name: 'prod' } });
    expect(ns).toMatchObject({ spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' }, metadata: { labels: { 'kubernetes.io/metadata.name': 'prod' } } });
  });

  it('generates a name from generateName: 5 characters of kube\'s alphabet', () => {
    const names = new Set<string>();
    for (let i = 0; i < 20; i++) names.add(reg.create(PODS, 'default', { metadata: { generateName: 'app2-5d4f8c7b9-' }, spec: {} }).metadata.name!);
    expect(names.size).toBe(20);
    for (const n of names) expect(n).toMatch(/^app2-5d4f8c7b9-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    const long = reg.create(CONFIGMAPS, 'default', { metadata: { generateName: `${'a'.repeat(70)}-` } }).metadata.name!;
    expect(long).toMatch(new RegExp(`^${'a'.repeat(58)}[bcdfghjklmnpqrstvwxz2456789]{5}$`));
  });

  it('answers 404 for a namespace that does not exist, 403 for one that is terminating', () => {
    expect(statusOf(() => reg.create(PODS, 'nope', pod('x')))).toEqual({
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
      message: 'namespaces "nope" not found', reason: 'NotFound', details: { name: 'nope', kind: 'namespaces' }, code: 404,
    });
    reg.create(NAMESPACES, undefined, { metadata: { name: 'old' } });
    reg.delete(NAMESPACES, undefined, 'old');
    expect(statusOf(() => reg.create(CONFIGMAPS, 'old', { metadata: { name: 'c' } }))).toMatchObject({
      code: 403, reason: 'Forbidden', message: 'configmaps "c" is forbidden: unable to create new content in namespace old because it is being terminated',
    });
  });

  it("validates names by each kind's rule with kube's messages (422 Invalid with causes)", () => {
    expect(statusOf(() => reg.create(PODS, 'default', pod('Bad_Name')))).toEqual({
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
      message: `Pod "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": ${SUBDOMAIN}`,
      reason: 'Invalid',
      details: { name: 'Bad_Name', kind: 'Pod', causes: [{ reason: 'FieldValueInvalid', message: `Invalid value: "Bad_Name": ${SUBDOMAIN}`, field: 'metadata.name' }] },
      code: 422,
    });
    expect(statusOf(() => reg.create(SERVICES, 'default', { metadata: { name: '1svc' }, spec: { ports: [{ port: 80 }] } })).message).toBe(`Service "1svc" is invalid: metadata.name: Invalid value: "1svc": ${DNS1035}`);
    expect(statusOf(() => reg.create(NAMESPACES, undefined, { metadata: { name: 'a.b' } })).message).toBe('Namespace "a.b" is invalid: metadata.name: Invalid value: "a.b": must not contain dots');
    expect(statusOf(() => reg.create(DEPLOYMENTS, 'default', { metadata: {} })).message).toBe('Deployment.apps "" is invalid: metadata.name: Required value: name or generateName is required');
    const two = statusOf(() => reg.create(CONFIGMAPS, 'default', { metadata: { name: 'c', labels: { 'a/b/c': 'x', ok: 'bad value' } } }));
    expect(two.message).toMatch(/^ConfigMap "c" is invalid: \[metadata\.labels: Invalid value: "a\/b\/c": a qualified name must consist of .*, metadata\.labels: Invalid value: "bad value": a valid label must be/);
    expect(two.details!.causes).toHaveLength(2);
  });

  it('runs a strategy validate hook and reports its field errors', () => {
    fresh({ strategies: { deployments: { validate: (obj) => ((obj.spec?.replicas as number) < 0 ? [fieldErrors.invalid('spec.replicas', obj.spec!.replicas, 'must be greater than or equal to 0')] : []) } } });
    expect(statusOf(() => reg.create(DEPLOYMENTS, 'default', { metadata: { name: 'd' }, spec: { replicas: -1 } }))).toMatchObject({
      code: 422,
      message: 'Deployment.apps "d" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0',
      details: { name: 'd', group: 'apps', kind: 'Deployment', causes: [{ reason: 'FieldValueInvalid', field: 'spec.replicas' }] },
    });
    expect(store.get('/registry/deployments/default/d')).toBeUndefined();
  });

  it('answers 409 AlreadyExists, and refuses a namespace that does not match the request', () => {
    reg.create(PODS, 'default', pod('web-1'));
    expect(statusOf(() => reg.create(PODS, 'default', pod('web-1')))).toMatchObject({ code: 409, reason: 'AlreadyExists', message: 'pods "web-1" already exists', details: { name: 'web-1', kind: 'pods' } });
    expect(statusOf(() => reg.create(DEPLOYMENTS, 'default', { metadata: { name: 'x' } }) && reg.create(DEPLOYMENTS, 'default', { metadata: { name: 'x' } }))).toMatchObject({
      message: 'deployments.apps "x" already exists', details: { group: 'apps', kind: 'deployments' },
    });
    expect(statusOf(() => reg.create(PODS, 'default', { ...pod('p'), metadata: { name: 'p', namespace: 'other' } }))).toMatchObject({
      code: 400, reason: 'BadRequest', message: 'the namespace of the provided object does not match the namespace sent on the request',
    });
    expect(statusOf(() => reg.create(PODS, 'default', { ...pod('q'), metadata: { name: 'q', resourceVersion: '5' } })).message).toBe('Internal error occurred: resourceVersion should not be set on objects to be created');
  });
});

describe('get and list', () => {
  it('answers 404 NotFound and checks the resourceVersion it is given', () => {
    expect(statusOf(() => reg.get(PODS, 'default', 'nope'))).toMatchObject({ code: 404, message: 'pods "nope" not found' });
    reg.create(PODS, 'default', pod('a'));
    expect(statusOf(() => reg.get(PODS, 'default', 'a', { resourceVersion: '999' }))).toMatchObject({
      code: 504, reason: 'Timeout', message: `Timeout: Too large resource version: 999, current: ${store.currentRevision()}`,
    });
    expect(statusOf(() => reg.get(PODS, 'default', 'a', { resourceVersion: 'abc' }))).toMatchObject({
      code: 400, message: 'invalid resource version: resourceVersion: Invalid value: "abc": strconv.ParseUint: parsing "abc": invalid syntax',
    });
  });

  it("lists with the store's revision as the list's resourceVersion, items without apiVersion/kind", () => {
    reg.create(NAMESPACES, undefined, { metadata: { name: 'kube-system' } });
    const a = reg.create(PODS, 'default', pod('a'));
    reg.create(PODS, 'kube-system', pod('b'));
    reg.create(CONFIGMAPS, 'default', { metadata: { name: 'c' } });
    const all = reg.list(PODS, undefined);
    expect(all).toMatchObject({ apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: String(store.currentRevision()) } });
    expect(all.items.map((p) => `${p.metadata.namespace}/${p.metadata.name}`)).toEqual(['default/a', 'kube-system/b']);
    expect(all.items[0]).not.toHaveProperty('apiVersion');
    expect(all.items[0]!.metadata.resourceVersion).toBe(a.metadata.resourceVersion);
    expect(reg.list(PODS, 'kube-system').items.map((p) => p.metadata.name)).toEqual(['b']);
  });

  it('serves resourceVersion N: NotOlderThan (now), Exact (then), too large (504), compacted (410)', () => {
    const a = reg.create(PODS, 'default', pod('a'));
    const then = store.currentRevision();
    reg.update(PODS, 'default', 'a', { ...a, metadata: { ...a.metadata, labels: { app: 'db' } } });
    reg.create(PODS, 'default', pod('b'));
    const now = reg.list(PODS, 'default', { resourceVersion: String(then) });
    expect(now.items.map((p) => p.metadata.name)).toEqual(['a', 'b']);
    expect(now.metadata.resourceVersion).toBe(String(store.currentRevision()));
    const exact = reg.list(PODS, 'default', { resourceVersion: String(then), resourceVersionMatch: 'Exact' });
    expect(exact.metadata.resourceVersion).toBe(String(then));
    expect(exact.items.map((p) => [p.metadata.name, p.metadata.labels?.app])).toEqual([['a', 'web']]);
    // resourceVersion with a limit and no match is Exact (the legacy rule for paging).
    expect(reg.list(PODS, 'default', { resourceVersion: String(then), limit: 10 }).metadata.resourceVersion).toBe(String(then));
    expect(reg.list(PODS, 'default', { resourceVersion: '0' }).items).toHaveLength(2);
    expect(statusOf(() => reg.list(PODS, 'default', { resourceVersion: '9999', resourceVersionMatch: 'NotOlderThan' })).code).toBe(504);
    store.compact(1);
    expect(statusOf(() => reg.list(PODS, 'default', { resourceVersion: String(then), resourceVersionMatch: 'Exact' }))).toMatchObject({
      code: 410, reason: 'Expired', message: 'The resourceVersion for the provided list is too old.',
    });
  });

  it('validates its options as kube does (422 on ListOptions)', () => {
    expect(statusOf(() => reg.list(PODS, 'default', { resourceVersionMatch: 'Exact' })).message).toBe(
      'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided',
    );
    expect(statusOf(() => reg.list(PODS, 'default', { resourceVersion: '0', resourceVersionMatch: 'Exact' })).message).toBe(
      'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
    );
  });

  it('filters by label and field selectors; a bad selector is 400 with the parser\'s message', () => {
    reg.create(PODS, 'default', pod('a'));
    reg.create(PODS, 'default', { ...pod('b'), metadata: { name: 'b', labels: { app: 'db' } }, spec: { containers: [] } });
    expect(reg.list(PODS, 'default', { labelSelector: 'app=db' }).items.map((p) => p.metadata.name)).toEqual(['b']);
    expect(reg.list(PODS, 'default', { labelSelector: 'app in (web,db),app!=web' }).items.map((p) => p.metadata.name)).toEqual(['b']);
    expect(reg.list(PODS, undefined, { fieldSelector: 'spec.nodeName=labs' }).items.map((p) => p.metadata.name)).toEqual(['a']);
    expect(reg.list(PODS, undefined, { fieldSelector: 'spec.nodeName=' }).items.map((p) => p.metadata.name)).toEqual(['b']);
    expect(statusOf(() => reg.list(PODS, 'default', { fieldSelector: 'spec.foo=x' }))).toMatchObject({ code: 400, reason: 'BadRequest', message: 'field label not supported: spec.foo' });
    expect(statusOf(() => reg.list(PODS, 'default', { labelSelector: 'a b' })).message).toBe("unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt");
  });

  it('pages with limit and continue at one revision, with remainingItemCount', () => {
    for (const n of ['a', 'b', 'c', 'd', 'e']) reg.create(CONFIGMAPS, 'default', { metadata: { name: n } });
    const first = reg.list(CONFIGMAPS, 'default', { limit: 2 });
    expect(first.items.map((c) => c.metadata.name)).toEqual(['a', 'b']);
    expect(first.metadata.remainingItemCount).toBe(3);
    const token = JSON.parse(Buffer.from(first.metadata.continue!, 'base64url').toString());
    expect(token).toEqual({ v: 'meta.k8s.io/v1', rv: Number(first.metadata.resourceVersion), start: 'b\u0000' });
    const bb = reg.create(CONFIGMAPS, 'default', { metadata: { name: 'bb' } }); // after the first page's revision: not in this list
    const second = reg.list(CONFIGMAPS, 'default', { limit: 2, continue: first.metadata.continue });
    expect(second.items.map((c) => c.metadata.name)).toEqual(['c', 'd']);
    expect(second.metadata.resourceVersion).toBe(first.metadata.resourceVersion);
    const last = reg.list(CONFIGMAPS, 'default', { limit: 2, continue: second.metadata.continue });
    expect(last.items.map((c) => c.metadata.name)).toEqual(['e']);
    expect(last.metadata.continue).toBeUndefined();
    expect(statusOf(() => reg.list(CONFIGMAPS, 'default', { continue: 'not*a*token' })).message).toMatch(/^invalid continue token: continue key is not valid/);
    expect(statusOf(() => reg.list(CONFIGMAPS, 'default', { continue: first.metadata.continue, resourceVersion: '5' })).message).toBe('specifying resource version is not allowed when using continue');
    reg.update(CONFIGMAPS, 'default', 'bb', { ...bb, data: { x: 'y' } });
    store.compact(1);
    const expired = statusOf(() => reg.list(CONFIGMAPS, 'default', { limit: 2, continue: first.metadata.continue }));
    expect(expired).toMatchObject({ code: 410, reason: 'Expired' });
    expect(expired.message).toMatch(/^The provided continue parameter is too old to display a consistent list result\. You can start a new list without the continue parameter, or use the continue token/);
    const retry = reg.list(CONFIGMAPS, 'default', { limit: 10, continue: expired.metadata.continue });
    expect(retry.items.map((c) => c.metadata.name)).toEqual(['bb', 'c', 'd', 'e']);
  });
});

describe('update', () => {
  it("refuses a stale resourceVersion with kube's 409 Conflict: two writers, the second loses", () => {
    const created = reg.create(PODS, 'default', pod('web-1'));
    const mine = structuredClone(created);
    const theirs = structuredClone(created);
    mine.metadata.labels = { app: 'web', who: 'me' };
    theirs.metadata.labels = { app: 'web', who: 'them' };
    const first = reg.update(PODS, 'default', 'web-1', theirs);
    expect(Number(first.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));
    expect(statusOf(() => reg.update(PODS, 'default', 'web-1', mine))).toEqual({
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
      message: `Operation cannot be fulfilled on pods "web-1": ${CONFLICT}`, reason: 'Conflict', details: { name: 'web-1', kind: 'pods' }, code: 409,
    });
    expect(reg.get(PODS, 'default', 'web-1').metadata.labels?.who).toBe('them');
  });

  it('takes an update without resourceVersion unconditionally where kube allows it (not for Leases)', () => {
    reg.create(PODS, 'default', pod('web-1'));
    const { resourceVersion: _rv, ...meta } = reg.get(PODS, 'default', 'web-1').metadata;
    expect(reg.update(PODS, 'default', 'web-1', { ...pod('web-1'), metadata: { ...meta, labels: { app: 'x' } } }).metadata.labels).toEqual({ app: 'x' });
    reg.create(LEASES, 'default', { metadata: { name: 'labs' }, spec: { holderIdentity: 'labs' } });
    expect(statusOf(() => reg.update(LEASES, 'default', 'labs', { metadata: { name: 'labs' }, spec: { holderIdentity: 'labs', renewTime: 'x' } }))).toMatchObject({
      code: 422,
      message: 'leases.coordination.k8s.io "labs" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update',
    });
  });

  it('writes no new revision for an update that changes nothing', () => {
    const created = reg.create(CONFIGMAPS, 'default', { metadata: { name: 'c' }, data: { a: '1' } });
    const events: WatchEvent[] = [];
    reg.watch(CONFIGMAPS, 'default', { resourceVersion: created.metadata.resourceVersion }, (e) => events.push(e));
    const before = store.currentRevision();
    const same = reg.update(CONFIGMAPS, 'default', 'c', { data: { a: '1' }, metadata: { resourceVersion: created.metadata.resourceVersion, name: 'c' } });
    expect(store.currentRevision()).toBe(before);
    expect(same).toEqual(created);
    expect(events).toEqual([]);
  });

  it('ignores status through the main resource where a status subresource exists; /status changes only status', () => {
    const d = reg.create(DEPLOYMENTS, 'default', { metadata: { name: 'app2' }, spec: { replicas: 3 } });
    const viaMain = reg.update(DEPLOYMENTS, 'default', 'app2', { ...d, status: { replicas: 3 } });
    expect(viaMain.status).toEqual({});
    expect(viaMain.metadata.resourceVersion).toBe(d.metadata.resourceVersion); // nothing changed
    const viaStatus = reg.update(DEPLOYMENTS, 'default', 'app2', { ...d, spec: { replicas: 9 }, metadata: { ...d.metadata, labels: { x: 'y' } }, status: { replicas: 3, observedGeneration: 1 } }, { subresource: 'status' });
    expect(viaStatus.status).toEqual({ replicas: 3, observedGeneration: 1 });
    expect(viaStatus.spec).toEqual(d.spec); // the defaulted spec (defaults.ts), unchanged
    expect(viaStatus.spec?.replicas).toBe(3);
    expect(viaStatus.metadata.labels).toBeUndefined();
    expect(viaStatus.metadata.generation).toBe(1);
    expect(statusOf(() => reg.update(CONFIGMAPS, 'default', 'c', { metadata: { name: 'c' } }, { subresource: 'status' }))).toMatchObject({ code: 404, message: 'the server could not find the requested resource' });
  });

  it("lets a Deployment's annotations through its status subresource, without a new generation (the deployment controller's revision)", () => {
    const d = reg.create(DEPLOYMENTS, 'default', { metadata: { name: 'app2', annotations: { keep: 'me' } }, spec: { replicas: 3 } });
    const annotations = { keep: 'me', 'deployment.kubernetes.io/revision': '1' };
    const written = reg.update(DEPLOYMENTS, 'default', 'app2', { ...d, metadata: { ...d.metadata, annotations, labels: { x: 'y' } }, status: { observedGeneration: 1 } }, { subresource: 'status' });
    expect(written.metadata.annotations).toEqual(annotations);
    expect(written.metadata.labels).toBeUndefined();
    expect(written.metadata.generation).toBe(1);
    // Other kinds keep everything but the status.
    const rs = reg.create(REPLICASETS, 'default', { metadata: { name: 'rs' }, spec: { replicas: 1 } });
    expect(reg.update(REPLICASETS, 'default', 'rs', { ...rs, metadata: { ...rs.metadata, annotations: { a: 'b' } }, status: { replicas: 1 } }, { subresource: 'status' }).metadata.annotations).toBeUndefined();
  });

  it("lets a Node's labels and annotations through nodes/status, not its spec (flannel patches its annotations there)", () => {
    const n = reg.create(NODES, undefined, { metadata: { name: 'labsw' }, spec: { podCIDR: '10.42.1.0/24' } });
    const annotations = { 'flannel.alpha.coreos.com/backend-type': 'vxlan' };
    const written = reg.update(NODES, undefined, 'labsw', { ...n, metadata: { ...n.metadata, annotations, labels: { a: 'b' } }, spec: { podCIDR: '10.42.9.0/24' } }, { subresource: 'status' });
    expect(written.metadata.annotations).toEqual(annotations);
    expect(written.metadata.labels).toEqual({ a: 'b' });
    expect(written.spec?.podCIDR).toBe('10.42.1.0/24');
  });

  it('bumps generation on a spec change (and a Deployment\'s annotations), not on labels', () => {
    const d = reg.create(DEPLOYMENTS, 'default', { metadata: { name: 'app2' }, spec: { replicas: 3 } });
    const labelled = reg.update(DEPLOYMENTS, 'default', 'app2', { ...d, metadata: { ...d.metadata, labels: { a: 'b' } } });
    expect(labelled.metadata.generation).toBe(1);
    const scaled = reg.update(DEPLOYMENTS, 'default', 'app2', { ...labelled, spec: { replicas: 5 } });
    expect(scaled.metadata.generation).toBe(2);
    const annotated = reg.update(DEPLOYMENTS, 'default', 'app2', { ...scaled, metadata: { ...scaled.metadata, annotations: { 'kubectl.kubernetes.io/restartedAt': 'now' } } });
    expect(annotated.metadata.generation).toBe(3);
    const rs = reg.create(REPLICASETS, 'default', { metadata: { name: 'rs' }, spec: { replicas: 1 } });
    const rsAnnotated = reg.update(REPLICASETS, 'default', 'rs', { ...rs, metadata: { ...rs.metadata, annotations: { a: 'b' } } });
    expect(rsAnnotated.metadata.generation).toBe(1);
    // A client cannot set generation, uid or creationTimestamp.
    const forged = reg.update(DEPLOYMENTS, 'default', 'app2', { ...annotated, metadata: { ...annotated.metadata, generation: 99, creationTimestamp: '2000-01-01T00:00:00Z' }, spec: { replicas: 6 } });
    expect(forged.metadata).toMatchObject({ generation: 4, creationTimestamp: '2026-11-28T06:30:00Z', uid: d.metadata.uid });
  });

  it('checks the uid an update carries, and the name against the URL', () => {
    const created = reg.create(PODS, 'default', pod('web-1'));
    expect(statusOf(() => reg.update(PODS, 'default', 'web-1', { ...created, metadata: { ...created.metadata, uid: 'other' } })).message).toBe(
      `Operation cannot be fulfilled on pods "web-1": Precondition failed: UID in precondition: other, UID in object meta: ${created.metadata.uid}`,
    );
    expect(statusOf(() => reg.update(PODS, 'default', 'web-1', { ...created, metadata: { ...created.metadata, name: 'web-2' } }))).toMatchObject({
      code: 400, message: 'the name of the object (web-2) does not match the name on the URL (web-1)',
    });
    expect(statusOf(() => reg.update(CONFIGMAPS, 'default', 'nope', { metadata: { name: 'nope', resourceVersion: '3' } })).message).toBe('configmaps "nope" not found');
  });

  it('creates on update where kube allows it (Endpoints, Leases)', () => {
    const ep = reg.update(ENDPOINTS, 'default', 'web', { metadata: { name: 'web' }, subsets: [] });
    expect(ep.metadata.uid).toBeDefined();
    expect(reg.get(ENDPOINTS, 'default', 'web').metadata.resourceVersion).toBe(ep.metadata.resourceVersion);
  });

  it('scales a Deployment through its scale subresource (an autoscaling/v1 Scale)', () => {
    const d = reg.create(DEPLOYMENTS, 'default', { metadata: { name: 'app2' }, spec: { replicas: 3, selector: { matchLabels: { app: 'app2' } } } });
    const scale = reg.getScale(DEPLOYMENTS, 'default', 'app2');
    expect(scale).toEqual({
      apiVersion: 'autoscaling/v1', kind: 'Scale',
      metadata: { name: 'app2', namespace: 'default', uid: d.metadata.uid, resourceVersion: d.metadata.resourceVersion, creationTimestamp: '2026-11-28T06:30:00Z' },
      spec: { replicas: 3 }, status: { replicas: 0, selector: 'app=app2' },
    });
    const scaled = reg.updateScale(DEPLOYMENTS, 'default', 'app2', { ...scale, spec: { replicas: 5 } });
    expect(scaled.spec.replicas).toBe(5);
    expect(reg.get(DEPLOYMENTS, 'default', 'app2')).toMatchObject({ spec: { replicas: 5, selector: { matchLabels: { app: 'app2' } } }, metadata: { generation: 2 } });
    expect(statusOf(() => reg.updateScale(DEPLOYMENTS, 'default', 'app2', { ...scale, spec: { replicas: 1 } })).message).toBe(`Operation cannot be fulfilled on deployments.apps "app2": ${CONFLICT}`);
    expect(statusOf(() => reg.updateScale(DEPLOYMENTS, 'default', 'app2', { ...scaled, spec: { replicas: -1 } })).message).toBe('Scale.autoscaling "app2" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0');
    expect(statusOf(() => reg.getScale(CONFIGMAPS, 'default', 'c')).code).toBe(404);
  });

  it('retries a read-modify-write (the patch path) when another process wrote in between', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pplt-registry-'));
    try {
      const file = path.join(dir, 'state.db');
      const mine = new Registry(new KineStore(file));
      const theirs = new Registry(new KineStore(file));
      mine.create(NAMESPACES, undefined, { metadata: { name: 'default' } });
      mine.create(CONFIGMAPS, 'default', { metadata: { name: 'c' }, data: { n: '0' } });
      let calls = 0;
      const result = mine.guaranteedUpdate(CONFIGMAPS, 'default', 'c', (current) => {
        calls++;
        if (calls === 1) {
          const other = theirs.get(CONFIGMAPS, 'default', 'c');
          theirs.update(CONFIGMAPS, 'default', 'c', { ...other, data: { n: '1', by: 'them' } });
        }
        return { ...current, data: { ...(current.data as Record<string, string>), n: String(Number((current.data as Record<string, string>).n) + 10) } };
      });
      expect(calls).toBe(2);
      expect(result.data).toEqual({ n: '11', by: 'them' });
      // A resourceVersion the function leaves stale is a precondition, not retried.
      const stale = String(Number(result.metadata.resourceVersion) - 1);
      expect(statusOf(() => mine.guaranteedUpdate(CONFIGMAPS, 'default', 'c', (current) => ({ ...current, metadata: { ...current.metadata, resourceVersion: stale }, data: {} }))).code).toBe(409);
      mine.store.close();
      theirs.store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('delete', () => {
  it('deletes a pod gracefully: deletionTimestamp and grace period set, the pod stays until a delete with 0', () => {
    const created = reg.create(PODS, 'default', pod('web-1'));
    const events: string[] = [];
    reg.watch(PODS, 'default', { resourceVersion: created.metadata.resourceVersion }, (e) => events.push(`${e.type} ${(e.object as KubeObject).metadata.deletionGracePeriodSeconds}`));
    const first = reg.delete(PODS, 'default', 'web-1');
    expect(first.deleted).toBe(false);
    expect((first.object as KubeObject).metadata).toMatchObject({ deletionTimestamp: '2026-11-28T06:30:30Z', deletionGracePeriodSeconds: 30 });
    expect(reg.get(PODS, 'default', 'web-1').metadata.deletionTimestamp).toBe('2026-11-28T06:30:30Z');
    // A second delete with a longer (or no) grace period changes nothing.
    const before = store.currentRevision();
    expect(reg.delete(PODS, 'default', 'web-1', { gracePeriodSeconds: 60 }).deleted).toBe(false);
    expect(store.currentRevision()).toBe(before);
    // An update cannot take the deletion back.
    const current = reg.get(PODS, 'default', 'web-1');
    const { deletionTimestamp: _d, deletionGracePeriodSeconds: _g, ...meta } = current.metadata;
    expect(reg.update(PODS, 'default', 'web-1', { ...current, metadata: meta }).metadata.deletionTimestamp).toBe('2026-11-28T06:30:30Z');
    clock += 5000;
    const last = reg.delete(PODS, 'default', 'web-1', { gracePeriodSeconds: 0 });
    expect(last.deleted).toBe(true);
    expect((last.object as KubeObject).metadata).toMatchObject({ deletionGracePeriodSeconds: 0, deletionTimestamp: '2026-11-28T06:30:00Z' });
    expect(statusOf(() => reg.get(PODS, 'default', 'web-1')).code).toBe(404);
    expect(events).toEqual(['MODIFIED 30', 'MODIFIED 0', 'DELETED 0']);
  });

  it("takes the grace period from the options, else the pod's spec; an unscheduled pod goes at once", () => {
    reg.create(PODS, 'default', pod('a'));
    expect((reg.delete(PODS, 'default', 'a', { gracePeriodSeconds: 5 }).object as KubeObject).metadata.deletionGracePeriodSeconds).toBe(5);
    reg.create(PODS, 'default', { metadata: { name: 'pending' }, spec: { terminationGracePeriodSeconds: 30, containers: [] } });
    const gone = reg.delete(PODS, 'default', 'pending');
    expect(gone.deleted).toBe(true);
    expect((gone.object as KubeObject).kind).toBe('Pod'); // pods return the object, not a Status
  });

  it('keeps an object with finalizers until an update removes the last one', () => {
    const cm = reg.create(CONFIGMAPS, 'default', { metadata: { name: 'c', finalizers: ['example.com/cleanup'] } });
    const first = reg.delete(CONFIGMAPS, 'default', 'c');
    expect(first.deleted).toBe(false);
    const held = first.object as KubeObject;
    expect(held.metadata).toMatchObject({ deletionTimestamp: '2026-11-28T06:30:00Z', deletionGracePeriodSeconds: 0, finalizers: ['example.com/cleanup'] });
    expect(Number(held.metadata.resourceVersion)).toBeGreaterThan(Number(cm.metadata.resourceVersion));
    expect(reg.delete(CONFIGMAPS, 'default', 'c').deleted).toBe(false);
    expect(statusOf(() => reg.update(CONFIGMAPS, 'default', 'c', { ...held, metadata: { ...held.metadata, finalizers: ['example.com/cleanup', 'example.com/more'] } }))).toMatchObject({
      code: 422,
      message: 'ConfigMap "c" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"example.com/more"}',
    });
    reg.update(CONFIGMAPS, 'default', 'c', { ...held, metadata: { ...held.metadata, finalizers: [] } });
    expect(statusOf(() => reg.get(CONFIGMAPS, 'default', 'c')).code).toBe(404);
  });

  it('records propagationPolicy as the GC finalizers (orphan, foregroundDeletion) and keeps the object for the GC', () => {
    reg.create(DEPLOYMENTS, 'default', { metadata: { name: 'orphaned' }, spec: {} });
    const orphan = reg.delete(DEPLOYMENTS, 'default', 'orphaned', { propagationPolicy: 'Orphan' });
    expect(orphan.deleted).toBe(false);
    expect((orphan.object as KubeObject).metadata).toMatchObject({ finalizers: ['orphan'], deletionTimestamp: '2026-11-28T06:30:00Z', generation: 2 });
    reg.create(REPLICASETS, 'default', { metadata: { name: 'fg' }, spec: {} });
    expect((reg.delete(REPLICASETS, 'default', 'fg', { propagationPolicy: 'Foreground' }).object as KubeObject).metadata.finalizers).toEqual(['foregroundDeletion']);
    reg.create(DEPLOYMENTS, 'default', { metadata: { name: 'bg' }, spec: {} });
    const background = reg.delete(DEPLOYMENTS, 'default', 'bg', { propagationPolicy: 'Background' });
    expect(background).toEqual({ deleted: true, object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name: 'bg', group: 'apps', kind: 'deployments', uid: expect.any(String) } } });
    expect(statusOf(() => reg.delete(DEPLOYMENTS, 'default', 'orphaned', { propagationPolicy: 'Sideways' as 'Orphan' })).message).toBe(
      'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Sideways": supported values: "Foreground", "Background", "Orphan", "nil"',
    );
  });

  it("checks preconditions with kube's messages", () => {
    const created = reg.create(PODS, 'default', pod('web-1'));
    expect(statusOf(() => reg.delete(PODS, 'default', 'web-1', { preconditions: { uid: 'x' } }))).toMatchObject({
      code: 409,
      message: `Operation cannot be fulfilled on Pod "web-1": the UID in the precondition (x) does not match the UID in record (${created.metadata.uid}). The object might have been deleted and then recreated`,
      details: { kind: 'Pod' },
    });
    expect(statusOf(() => reg.delete(PODS, 'default', 'web-1', { preconditions: { resourceVersion: '1' } })).message).toBe(
      `Operation cannot be fulfilled on Pod "web-1": the ResourceVersion in the precondition (1) does not match the ResourceVersion in record (${created.metadata.resourceVersion}). The object might have been modified`,
    );
    expect(reg.delete(PODS, 'default', 'web-1', { gracePeriodSeconds: 0, preconditions: { uid: created.metadata.uid, resourceVersion: created.metadata.resourceVersion } }).deleted).toBe(true);
    expect(statusOf(() => reg.delete(PODS, 'default', 'web-1')).message).toBe('pods "web-1" not found');
  });

  it('terminates a namespace in steps: Terminating, 409 while spec.finalizers remain, gone after finalize', () => {
    reg.create(NAMESPACES, undefined, { metadata: { name: 'prod' } });
    const first = reg.delete(NAMESPACES, undefined, 'prod');
    expect(first.deleted).toBe(false);
    expect(first.object).toMatchObject({ status: { phase: 'Terminating' }, metadata: { deletionTimestamp: '2026-11-28T06:30:00Z' } });
    expect(statusOf(() => reg.delete(NAMESPACES, undefined, 'prod')).message).toBe(
      'Operation cannot be fulfilled on namespaces "prod": The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.',
    );
    // An update through the main resource cannot drop spec.finalizers; namespaces/finalize can,
    // and removing the last one of a terminating namespace deletes it.
    const ns = reg.get(NAMESPACES, undefined, 'prod');
    const labelled = reg.update(NAMESPACES, undefined, 'prod', { ...ns, metadata: { ...ns.metadata, labels: { a: 'b' } }, spec: { finalizers: [] } });
    expect(labelled.spec).toEqual({ finalizers: ['kubernetes'] });
    expect(labelled.metadata.labels).toEqual({ a: 'b', 'kubernetes.io/metadata.name': 'prod' });
    reg.update(NAMESPACES, undefined, 'prod', { ...labelled, spec: { finalizers: [] } }, { subresource: 'finalize' });
    expect(statusOf(() => reg.get(NAMESPACES, undefined, 'prod')).message).toBe('namespaces "prod" not found');
    expect(statusOf(() => reg.delete(NAMESPACES, undefined, 'default'))).toMatchObject({ code: 403, message: 'namespaces "default" is forbidden: this namespace may not be deleted' });
  });
});

describe('watch', () => {
  const names = (events: WatchEvent[]) => events.map((e) => `${e.type} ${(e.object as KubeObject).metadata?.name ?? ''}@${(e.object as KubeObject).metadata?.resourceVersion ?? ''}`);

  it('from "" first sends the current state as ADDED, then every change', () => {
    const a = reg.create(PODS, 'default', pod('a'));
    const events: WatchEvent[] = [];
    const w = reg.watch(PODS, 'default', {}, (e) => events.push(e));
    expect(names(events)).toEqual([`ADDED a@${a.metadata.resourceVersion}`]);
    const b = reg.create(PODS, 'default', pod('b'));
    reg.create(CONFIGMAPS, 'default', { metadata: { name: 'not-a-pod' } });
    const b2 = reg.update(PODS, 'default', 'b', { ...b, metadata: { ...b.metadata, labels: { app: 'x' } } });
    const d = reg.delete(PODS, 'default', 'a', { gracePeriodSeconds: 0 });
    expect(d.deleted).toBe(true);
    const rv = store.currentRevision();
    expect(names(events)).toEqual([
      `ADDED a@${a.metadata.resourceVersion}`,
      `ADDED b@${b.metadata.resourceVersion}`,
      `MODIFIED b@${b2.metadata.resourceVersion}`,
      `MODIFIED a@${rv - 1}`,
      `DELETED a@${rv}`,
    ]);
    expect((events[1]!.object as KubeObject).kind).toBe('Pod');
    w.stop();
    reg.create(PODS, 'default', pod('c'));
    expect(events).toHaveLength(5);
  });

  it('from N sends only what changed after N', () => {
    const a = reg.create(PODS, 'default', pod('a'));
    const b = reg.create(PODS, 'default', pod('b'));
    const events: WatchEvent[] = [];
    reg.watch(PODS, undefined, { resourceVersion: a.metadata.resourceVersion }, (e) => events.push(e));
    expect(names(events)).toEqual([`ADDED b@${b.metadata.resourceVersion}`]);
  });

  it('answers a compacted resourceVersion with one ERROR event: 410 Expired, too old resource version', () => {
    const a = reg.create(PODS, 'default', pod('a'));
    reg.update(PODS, 'default', 'a', { ...a, metadata: { ...a.metadata, labels: {} } });
    reg.create(PODS, 'default', pod('b'));
    const compacted = store.compact(1);
    const events: WatchEvent[] = [];
    const w = reg.watch(PODS, 'default', { resourceVersion: a.metadata.resourceVersion }, (e) => events.push(e));
    expect(events).toEqual([
      {
        type: 'ERROR',
        object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${a.metadata.resourceVersion} (${compacted})`, reason: 'Expired', code: 410 },
      },
    ]);
    expect(w.stopped).toBe(true);
    expect(statusOf(() => reg.watch(PODS, 'default', { resourceVersion: 'x1' })).code).toBe(400);
  });

  it('delivers an object that starts matching a selector as ADDED and one that stops as DELETED', () => {
    const events: WatchEvent[] = [];
    reg.watch(PODS, 'default', { labelSelector: 'app=web', fieldSelector: 'spec.nodeName=labs' }, (e) => events.push(e));
    const a = reg.create(PODS, 'default', pod('a'));
    const moved = reg.update(PODS, 'default', 'a', { ...a, metadata: { ...a.metadata, labels: { app: 'db' } } });
    const back = reg.update(PODS, 'default', 'a', { ...moved, metadata: { ...moved.metadata, labels: { app: 'web', v: '2' } } });
    reg.create(PODS, 'default', { ...pod('elsewhere'), spec: { nodeName: 'labsw', containers: [] } });
    expect(names(events)).toEqual([`ADDED a@${a.metadata.resourceVersion}`, `DELETED a@${moved.metadata.resourceVersion}`, `ADDED a@${back.metadata.resourceVersion}`]);
    // The DELETED event carries the last state that matched, at the revision of the change.
    expect((events[1]!.object as KubeObject).metadata.labels).toEqual({ app: 'web' });
  });

  it('sends BOOKMARKs when asked, and can be read as an async stream', async () => {
    fresh({ bookmarkIntervalMs: 10 });
    const w = reg.watch(PODS, 'default', { allowWatchBookmarks: true });
    const created = reg.create(PODS, 'default', pod('a'));
    const seen: WatchEvent[] = [];
    for await (const e of w) {
      seen.push(e);
      if (e.type === 'BOOKMARK') break;
    }
    expect(seen[0]).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'a', resourceVersion: created.metadata.resourceVersion } } });
    expect(seen.at(-1)).toEqual({ type: 'BOOKMARK', object: { apiVersion: 'v1', kind: 'Pod', metadata: { resourceVersion: String(store.currentRevision()) } } });
    expect(w.stopped).toBe(true);
  });
});

describe('a store opened again (a restarted API server)', () => {
  it('keeps the objects and continues their resourceVersions', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pplt-registry-'));
    try {
      const file = path.join(dir, 'state.db');
      const before = new Registry(new KineStore(file));
      before.create(NAMESPACES, undefined, { metadata: { name: 'default' } });
      const a = before.create(PODS, 'default', pod('a'));
      const list = before.list(PODS, 'default');
      before.store.close();
      const after = new Registry(new KineStore(file));
      expect(after.get(PODS, 'default', 'a')).toEqual(a);
      expect(after.list(PODS, 'default').metadata.resourceVersion).toBe(list.metadata.resourceVersion);
      const b = after.create(PODS, 'default', pod('b'));
      expect(Number(b.metadata.resourceVersion)).toBe(Number(a.metadata.resourceVersion) + 1);
      after.store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
