// kube-controller-manager's deployment controller, watch-driven on a real registry, with the
// ReplicaSet controller beside it (the Deployment's pods come from its ReplicaSets): what `kubectl
// apply`, `scale`, `rollout restart` and `rollout undo` lead to, read back from the API. The
// planner's arithmetic (proportional scaling, fenceposts, rounding) is tested on its own below.
import { defaultObject } from '../../src/api/server/defaults.ts';
import type { KubeObject } from '../../src/api/server/object.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { planDeployment } from '../../src/controllers/deployment-planner.ts';
import { maxSurge, maxUnavailable, scaledValue, withDefaults } from '../../src/controllers/deployment-util.ts';
import { podTemplateHash } from '../../src/controllers/podnames.ts';
import type { PodTemplateSpec } from '../../src/api/types.ts';
import type { DeploymentObj, ReplicaSetObj } from '../../src/controllers/workloads.ts';
import { Cluster, deployment, DEPLOYMENTS, isReady, live, ownedBy, SAFE, until } from './workload-fixtures.ts';

let c: Cluster;

beforeEach(async () => {
  c = await Cluster.start();
});

afterEach(async () => {
  await c.stop();
});

const hashOf = (d: DeploymentObj) => podTemplateHash(d.spec.template as unknown as PodTemplateSpec);
const cond = (d: DeploymentObj, type: string) => d.status?.conditions?.find((x) => x.type === type);

/** Plays the kubelet until `done`: every live pod that is not ready becomes ready, one at a time, checking `invariant` before each. */
async function rollOn(done: () => Promise<boolean>, invariant: () => Promise<void> = async () => {}): Promise<number> {
  let steps = 0;
  const deadline = Date.now() + 10_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`rollout did not finish: ${JSON.stringify((await c.replicaSets()).map((r) => [r.metadata.name, r.spec.replicas, r.status]))}`);
    await invariant();
    const unready = (await c.pods()).filter((p) => live(p) && !isReady(p));
    if (unready.length) {
      await c.setReady(unready[0]!.metadata.name);
      steps++;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return steps;
}

describe('deployment controller', () => {
  it('makes the ReplicaSet <name>-<pod-template-hash> and, through it, 3 pods; status and conditions follow readiness; Events as kube writes them', async () => {
    const d = await c.client.create(DEPLOYMENTS, deployment('app2', 3));
    const hash = hashOf(d);
    const [rs] = await until('one ReplicaSet', () => c.replicaSets(), (l) => l.length === 1);
    expect(rs!.metadata.name).toBe(`app2-${hash}`);
    expect(rs!.metadata.labels).toEqual({ app: 'app2', 'pod-template-hash': hash });
    expect(rs!.metadata.ownerReferences).toEqual([{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'app2', uid: d.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    // 25% of 3: maxSurge rounds up to 1, so max-replicas is 4.
    expect(rs!.metadata.annotations).toEqual({ 'deployment.kubernetes.io/revision': '1', 'deployment.kubernetes.io/desired-replicas': '3', 'deployment.kubernetes.io/max-replicas': '4' });
    expect(rs!.spec.selector).toEqual({ matchLabels: { app: 'app2', 'pod-template-hash': hash } });
    expect(rs!.spec.template!.metadata!.labels).toEqual({ app: 'app2', 'pod-template-hash': hash });
    expect(rs!.spec.replicas).toBe(3);

    const pods = await until('3 pods', () => c.pods(), (l) => l.length === 3);
    for (const p of pods) {
      expect(p.metadata.name).toMatch(new RegExp(`^app2-${hash}-${SAFE}{5}$`));
      expect(p.metadata.generateName).toBe(`app2-${hash}-`);
      expect(p.metadata.labels).toEqual({ app: 'app2', 'pod-template-hash': hash });
      expect(p.metadata.ownerReferences).toEqual([{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs!.metadata.name, uid: rs!.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    }

    let live2 = await until('status: 3 replicas, none available', () => c.deployment('app2'), (x) => x.status?.replicas === 3 && x.status.observedGeneration === 1);
    expect(live2.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('1');
    expect(live2.metadata.generation).toBe(1); // the revision annotation came through /status
    expect(live2.status).toMatchObject({ updatedReplicas: 3, unavailableReplicas: 3 });
    expect(cond(live2, 'Available')).toMatchObject({ status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' });
    expect(cond(live2, 'Progressing')).toMatchObject({ status: 'True' });

    for (const p of pods) await c.setReady(p.metadata.name);
    live2 = await until('all available', () => c.deployment('app2'), (x) => x.status?.availableReplicas === 3 && cond(x, 'Progressing')?.reason === 'NewReplicaSetAvailable');
    expect(live2.status).toMatchObject({ observedGeneration: 1, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 });
    expect(live2.status?.unavailableReplicas).toBeUndefined(); // zero: left out, as the API's JSON does
    expect(cond(live2, 'Available')).toMatchObject({ status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' });
    expect(cond(live2, 'Progressing')).toMatchObject({ status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "app2-${hash}" has successfully progressed.` });
    expect(live2.status?.conditions?.map((x) => x.type)).toEqual(['Available', 'Progressing']);
    const rsNow = (await c.replicaSets())[0]!;
    expect(rsNow.status).toEqual({ replicas: 3, fullyLabeledReplicas: 3, readyReplicas: 3, availableReplicas: 3, observedGeneration: 1 });

    const events = await until('events', () => c.events(), (l) => l.length >= 4);
    const scaled = events.find((e) => e.reason === 'ScalingReplicaSet')!;
    expect(scaled).toMatchObject({
      type: 'Normal',
      message: `Scaled up replica set app2-${hash} from 0 to 3`,
      source: { component: 'deployment-controller' },
      reportingComponent: 'deployment-controller',
      involvedObject: { kind: 'Deployment', namespace: 'default', name: 'app2', uid: d.metadata.uid, apiVersion: 'apps/v1' },
      count: 1,
    });
    expect(scaled.metadata.name).toMatch(/^app2\.[0-9a-f]+$/);
    expect(scaled.firstTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const created = events.filter((e) => e.reason === 'SuccessfulCreate');
    expect(created.map((e) => e.message).sort()).toEqual(pods.map((p) => `Created pod: ${p.metadata.name}`).sort());
    expect(created[0]).toMatchObject({ source: { component: 'replicaset-controller' }, involvedObject: { kind: 'ReplicaSet', name: `app2-${hash}`, uid: rs!.metadata.uid } });
  });

  it('rolls a changed template out step by step within maxSurge and maxUnavailable, as pods become ready', async () => {
    await c.client.create(DEPLOYMENTS, deployment('web', 4, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } }));
    await rollOn(async () => (await c.deployment('web')).status?.availableReplicas === 4);
    const [first] = await c.replicaSets();
    const changed = await c.editDeployment('web', (d) => {
      d.spec.template.metadata!.annotations = { 'kubectl.kubernetes.io/restartedAt': '2026-11-28T06:49:32Z' };
    });
    expect(changed.metadata.generation).toBe(2);
    const newName = `web-${hashOf(changed)}`;
    // At most 4+1 pods exist, at least 4-0 are ready, at every step.
    const invariant = async () => {
      const pods = (await c.pods()).filter(live);
      expect(pods.length).toBeLessThanOrEqual(5);
      expect(pods.filter(isReady).length).toBeGreaterThanOrEqual(4);
      const sizes = (await c.replicaSets()).reduce((n, r) => n + (r.spec.replicas ?? 0), 0);
      expect(sizes).toBeLessThanOrEqual(5);
    };
    const steps = await rollOn(async () => {
      const d = await c.deployment('web');
      return d.status?.updatedReplicas === 4 && d.status.replicas === 4 && d.status.availableReplicas === 4 && (d.status.observedGeneration ?? 0) >= 2;
    }, invariant);
    expect(steps).toBe(4); // one new pod at a time
    const rss = await c.replicaSets();
    expect(rss.find((r) => r.metadata.name === first!.metadata.name)!.spec.replicas).toBe(0);
    expect(rss.find((r) => r.metadata.name === newName)).toMatchObject({ spec: { replicas: 4 }, metadata: { annotations: { 'deployment.kubernetes.io/revision': '2' } } });
    const d = await c.deployment('web');
    expect(d.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('2');
    expect(cond(d, 'Progressing')).toMatchObject({ reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${newName}" has successfully progressed.` });
    const messages = (await c.events()).filter((e) => e.reason === 'ScalingReplicaSet').map((e) => e.message);
    expect(messages).toEqual([
      `Scaled up replica set ${first!.metadata.name} from 0 to 4`,
      `Scaled up replica set ${newName} from 0 to 1`,
      `Scaled down replica set ${first!.metadata.name} from 4 to 3`,
      `Scaled up replica set ${newName} from 1 to 2`,
      `Scaled down replica set ${first!.metadata.name} from 3 to 2`,
      `Scaled up replica set ${newName} from 2 to 3`,
      `Scaled down replica set ${first!.metadata.name} from 2 to 1`,
      `Scaled up replica set ${newName} from 3 to 4`,
      `Scaled down replica set ${first!.metadata.name} from 1 to 0`,
    ]);
  });

  it('scales the ReplicaSet when spec.replicas changes (kubectl scale), deleting unready pods first', async () => {
    await c.client.create(DEPLOYMENTS, deployment('app1', 3));
    await rollOn(async () => (await c.deployment('app1')).status?.availableReplicas === 3);
    const [rs] = await c.replicaSets();
    await c.editDeployment('app1', (d) => void (d.spec.replicas = 5));
    await until('5 pods', () => c.pods(), (l) => l.filter(live).length === 5);
    expect((await c.replicaSets())[0]!.metadata.annotations).toMatchObject({ 'deployment.kubernetes.io/desired-replicas': '5', 'deployment.kubernetes.io/max-replicas': '7' });
    const fresh = (await c.pods()).filter((p) => !isReady(p)).map((p) => p.metadata.name);
    expect(fresh).toHaveLength(2);
    await c.editDeployment('app1', (d) => void (d.spec.replicas = 3));
    const left = await until('3 pods', () => c.pods(), (l) => l.length === 3);
    expect(left.every(isReady)).toBe(true); // the two unready ones went
    const messages = (await c.events()).filter((e) => e.reason === 'ScalingReplicaSet').map((e) => e.message);
    expect(messages).toEqual([`Scaled up replica set ${rs!.metadata.name} from 0 to 3`, `Scaled up replica set ${rs!.metadata.name} from 3 to 5`, `Scaled down replica set ${rs!.metadata.name} from 5 to 3`]);
    const d = await until('observed', () => c.deployment('app1'), (x) => x.status?.observedGeneration === 3 && x.status.replicas === 3);
    expect(d.status).toMatchObject({ availableReplicas: 3, readyReplicas: 3, updatedReplicas: 3 });
    const deleted = (await c.events()).filter((e) => e.reason === 'SuccessfulDelete').map((e) => e.message);
    expect(deleted.sort()).toEqual(fresh.map((n) => `Deleted pod: ${n}`).sort());
  });

  it('Recreate: the old ReplicaSet goes to 0 and the new one is made only once the old pods are gone', async () => {
    const spec = deployment('db', 2, { strategy: { type: 'Recreate' } });
    (spec.spec.template.spec as Record<string, unknown>).nodeName = 'labs'; // scheduled: a delete is graceful
    await c.client.create(DEPLOYMENTS, spec);
    await rollOn(async () => (await c.deployment('db')).status?.availableReplicas === 2);
    const [old] = await c.replicaSets();
    await c.editDeployment('db', (d) => void ((d.spec.template.spec!.containers as { image: string }[])[0]!.image = 'busybox:2'));
    const terminating = await until('old pods terminating', () => c.pods(), (l) => l.length === 2 && l.every((p) => p.metadata.deletionTimestamp));
    await until('old ReplicaSet at 0', () => c.replicaSets(), (l) => l[0]!.spec.replicas === 0 && l[0]!.status?.replicas === 0);
    await new Promise((r) => setTimeout(r, 100));
    expect(await c.replicaSets()).toHaveLength(1); // no new ReplicaSet while old pods are still there
    const d = await c.deployment('db');
    expect(d.status).toMatchObject({ observedGeneration: 2 });
    expect(d.status?.replicas).toBeUndefined();
    // The kubelet has stopped them: the final delete.
    for (const p of terminating) await c.client.delete({ group: '', resource: 'pods' }, 'default', p.metadata.name, { gracePeriodSeconds: 0 });
    const rss = await until('new ReplicaSet', () => c.replicaSets(), (l) => l.length === 2);
    const fresh = rss.find((r) => r.metadata.uid !== old!.metadata.uid)!;
    expect(fresh.spec.replicas).toBe(2);
    await rollOn(async () => (await c.deployment('db')).status?.availableReplicas === 2);
    const messages = (await c.events()).filter((e) => e.reason === 'ScalingReplicaSet').map((e) => e.message);
    expect(messages).toEqual([`Scaled up replica set ${old!.metadata.name} from 0 to 2`, `Scaled down replica set ${old!.metadata.name} from 2 to 0`, `Scaled up replica set ${fresh.metadata.name} from 0 to 2`]);
  });

  it('rollout undo: the old template set back brings back its ReplicaSet with the next revision, no new ReplicaSet', async () => {
    const original = await c.client.create(DEPLOYMENTS, deployment('app3', 2));
    await rollOn(async () => (await c.deployment('app3')).status?.availableReplicas === 2);
    const [v1] = await c.replicaSets();
    await c.editDeployment('app3', (d) => void ((d.spec.template.spec!.containers as { image: string }[])[0]!.image = 'busybox:broken'));
    await rollOn(async () => {
      const d = await c.deployment('app3');
      return d.status?.updatedReplicas === 2 && d.status.replicas === 2 && d.status.availableReplicas === 2;
    });
    // kubectl rollout undo: a JSON patch replacing spec.template with the old ReplicaSet's (without the hash label).
    await c.editDeployment('app3', (d) => void (d.spec.template = structuredClone(original.spec.template)));
    await rollOn(async () => {
      const rss = await c.replicaSets();
      return rss.find((r) => r.metadata.uid === v1!.metadata.uid)?.spec.replicas === 2 && rss.every((r) => r.metadata.uid === v1!.metadata.uid || r.spec.replicas === 0) && (await c.pods()).length === 2;
    });
    const rss = await c.replicaSets();
    expect(rss).toHaveLength(2);
    const back = rss.find((r) => r.metadata.uid === v1!.metadata.uid)!;
    expect(back.metadata.annotations).toMatchObject({ 'deployment.kubernetes.io/revision': '3', 'deployment.kubernetes.io/revision-history': '1' });
    const d = await until('revision 3', () => c.deployment('app3'), (x) => x.metadata.annotations?.['deployment.kubernetes.io/revision'] === '3');
    expect(cond(d, 'Progressing')?.reason).not.toBe('NewReplicaSetCreated');
  });

  it('keeps revisionHistoryLimit old ReplicaSets, deleting the oldest once scaled to 0', async () => {
    await c.client.create(DEPLOYMENTS, deployment('hist', 1, { revisionHistoryLimit: 1 }));
    const images = ['busybox:1', 'busybox:2', 'busybox:3'];
    const names: string[] = [];
    for (const [i, image] of ['', ...images].entries()) {
      const d = i === 0 ? await c.deployment('hist') : await c.editDeployment('hist', (x) => void ((x.spec.template.spec!.containers as { image: string }[])[0]!.image = image));
      names.push(`hist-${hashOf(d)}`);
      await rollOn(async () => {
        const s = (await c.deployment('hist')).status;
        return s?.observedGeneration === d.metadata.generation && s?.updatedReplicas === 1 && s.replicas === 1 && s.availableReplicas === 1;
      });
    }
    const left = await until('two ReplicaSets', () => c.replicaSets(), (l) => l.length === 2);
    expect(left.map((r) => r.metadata.name).sort()).toEqual(names.slice(2).sort());
  });

  it('replaces a deleted pod under a new name', async () => {
    await c.client.create(DEPLOYMENTS, deployment('app2', 3));
    const pods = await until('3 pods', () => c.pods(), (l) => l.length === 3);
    const victim = pods[1]!.metadata.name;
    await c.client.delete({ group: '', resource: 'pods' }, 'default', victim);
    const after = await until('3 pods again', () => c.pods(), (l) => l.length === 3 && !l.some((p) => p.metadata.name === victim));
    const [rs] = await c.replicaSets();
    expect(after.every(ownedBy(rs!))).toBe(true);
  });

  it('on a hash collision (a ReplicaSet of that name that is not its own) raises collisionCount and hashes again', async () => {
    const d = deployment('app1', 1);
    // The template as the API server stores it (defaults filled in) is what the controller hashes.
    const stored = structuredClone(d) as unknown as KubeObject;
    defaultObject('deployments', stored);
    const template = (stored as unknown as { spec: { template: PodTemplateSpec } }).spec.template;
    const taken = `app1-${podTemplateHash(template)}`;
    await c.client.create<ReplicaSetObj>({ group: 'apps', resource: 'replicasets' }, { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: taken, namespace: 'default', labels: { other: 'x' } }, spec: { replicas: 0, selector: { matchLabels: { other: 'x' } }, template: { metadata: { labels: { other: 'x' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } } });
    await c.client.create(DEPLOYMENTS, d);
    const live1 = await until('collisionCount 1', () => c.deployment('app1'), (x) => x.status?.collisionCount === 1);
    const rss = await until('its own ReplicaSet', () => c.replicaSets(), (l) => l.length === 2);
    const own = rss.find((r) => r.metadata.name !== taken)!;
    expect(own.metadata.name).toBe(`app1-${podTemplateHash(template, 1)}`);
    expect(own.metadata.ownerReferences?.[0]?.uid).toBe(live1.metadata.uid);
  });

  it('refuses to act on a Deployment whose selector is empty (Warning SelectingAll), observing its generation', async () => {
    // apps/v1 refuses an empty selector at the API (422); the controller still guards against one
    // (a Deployment stored through an older API), as kube's does: store it past validation here.
    await c.stop();
    c = await Cluster.start({ registry: { strategies: { deployments: { validate: () => [] } } } });
    await c.client.create(DEPLOYMENTS, deployment('all', 1, { selector: {} }));
    const ev = await until('SelectingAll', () => c.events(), (l) => l.some((e) => e.reason === 'SelectingAll'));
    expect(ev[0]).toMatchObject({ type: 'Warning', message: 'This deployment is selecting all pods. A non-empty selector is required.' });
    expect((await c.deployment('all')).status).toEqual({ observedGeneration: 1 });
    expect(await c.replicaSets()).toHaveLength(0);
  });

  it('adopts an orphan ReplicaSet its selector matches (after a restart) instead of making another', async () => {
    const d = deployment('app1', 1);
    const hash = podTemplateHash(d.spec.template as unknown as PodTemplateSpec);
    const template = { ...d.spec.template, metadata: { labels: { app: 'app1', 'pod-template-hash': hash } } };
    await c.client.create<ReplicaSetObj>({ group: 'apps', resource: 'replicasets' }, { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: `app1-${hash}`, namespace: 'default', labels: template.metadata.labels }, spec: { replicas: 1, selector: { matchLabels: template.metadata.labels }, template } });
    const created = await c.client.create(DEPLOYMENTS, d);
    const [rs] = await until('adopted', () => c.replicaSets(), (l) => l.length === 1 && l[0]!.metadata.ownerReferences?.[0]?.uid === created.metadata.uid);
    expect(rs!.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('1');
    await until('1 pod', () => c.pods(), (l) => l.length === 1);
  });
});

describe('deployment planner', () => {
  const rs = (name: string, replicas: number, available: number, template: object, revision: string, created: string, maxReplicas?: number): ReplicaSetObj => ({
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, resourceVersion: '1', creationTimestamp: created, generation: 1, annotations: { 'deployment.kubernetes.io/revision': revision, 'deployment.kubernetes.io/desired-replicas': '10', 'deployment.kubernetes.io/max-replicas': String(maxReplicas ?? 13) } },
    spec: { replicas, selector: { matchLabels: { app: 'x' } }, template: template as ReplicaSetObj['spec']['template'] },
    status: { replicas, availableReplicas: available, readyReplicas: available, observedGeneration: 1 },
  });

  it("resolves maxSurge up and maxUnavailable down, as intstr does (7% of 100 is 7 either way), 0/0 becoming unavailable 1", () => {
    expect(scaledValue('7%', 100, true)).toBe(7);
    expect(scaledValue('25%', 3, true)).toBe(1);
    expect(scaledValue('25%', 3, false)).toBe(0);
    expect(scaledValue(2, 3, false)).toBe(2);
    const d = withDefaults(deployment('x', 3, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '10%', maxUnavailable: '10%' } } }));
    expect([maxSurge(d), maxUnavailable(d)]).toEqual([1, 0]);
    const zero = withDefaults(deployment('x', 3, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: '10%' } } }));
    expect([maxSurge(zero), maxUnavailable(zero)]).toEqual([0, 1]);
    expect(withDefaults({ ...deployment('x', 1), spec: { template: {} } }).spec).toMatchObject({ replicas: 1, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } }, revisionHistoryLimit: 10, progressDeadlineSeconds: 600 });
  });

  it('scales a rollout in progress proportionally (10 -> 15 replicas with 8 old and 5 new)', () => {
    const d = deployment('x', 15, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 3, maxUnavailable: 2 } } });
    Object.assign(d.metadata, { uid: 'uid-d', generation: 3, resourceVersion: '9' });
    d.status = { replicas: 13, observedGeneration: 2 };
    const oldT = { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'old' }] } };
    d.spec.template = { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'new' }] } };
    const old = rs('x-old', 8, 8, oldT, '1', '2026-11-28T06:00:00Z');
    const fresh = rs('x-new', 5, 0, { ...d.spec.template, metadata: { labels: { app: 'x', 'pod-template-hash': 'h' } } }, '2', '2026-11-28T06:01:00Z');
    const plan = planDeployment({ deployment: d, replicaSets: [old, fresh], podsByReplicaSet: new Map(), now: Date.parse('2026-11-28T06:02:00Z') });
    const updates = plan.steps.filter((s) => s.op === 'updateReplicaSet').map((s) => [s.rs.metadata.name, s.rs.spec.replicas, s.rs.metadata.annotations?.['deployment.kubernetes.io/desired-replicas'], s.event?.message]);
    // allowed 15+3 = 18, 5 to add: 8*18/13 = 11 (+3), 5*18/13 = 7 (+2).
    expect(updates).toEqual([
      ['x-old', 11, '15', 'Scaled up replica set x-old from 8 to 11'],
      ['x-new', 7, '15', 'Scaled up replica set x-new from 5 to 7'],
    ]);
    expect(plan.steps.at(-1)).toMatchObject({ op: 'updateStatus', deployment: { status: { observedGeneration: 3 } } });
  });
});
