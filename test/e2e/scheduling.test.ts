// Issue 14's scheduler and node maintenance on today's single node, with real kubectl: `kubectl
// drain` evicts every pod through the Eviction API; their replacements wait Pending with
// kube-scheduler's FailedScheduling text (the node is unschedulable) until `kubectl uncordon`,
// when they run and app2.com answers again; a pod whose nodeSelector no node matches, or that does
// not tolerate a node's taint, waits with the exact text and runs once the node is labelled or
// the taint is removed (the scheduler tries again when a node changes).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instancePaths } from '../../src/node/instance.ts';
import { cmd, inNetns, instanceName, isRoot, lab, until } from './helpers.ts';

const instance = instanceName('sch');
const paths = instancePaths(instance);

interface PodJson {
  metadata: { name: string; namespace: string; deletionTimestamp?: string };
  spec: { nodeName?: string };
  status: { phase: string; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

describe.skipIf(!isRoot)('scheduler and node maintenance on one node: drain, uncordon, nodeSelector, taints', () => {
  let dir: string;
  let kubeconfig: string;
  const kubectl = (args: string[], timeoutMs = 60_000) => cmd(['kubectl', '--kubeconfig', kubeconfig, ...args], { timeoutMs });
  const kubectlOk = async (args: string[], timeoutMs?: number) => {
    const r = await kubectl(args, timeoutMs);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const pods = async () => (JSON.parse(await kubectlOk(['get', 'pods', '-A', '-o', 'json'])) as { items: PodJson[] }).items;
  const ready = (p: PodJson) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  const allReady = async () => {
    const ps = await pods();
    return ps.length === 7 && ps.every((p) => ready(p) && !p.metadata.deletionTimestamp);
  };
  const app2 = () => inNetns(paths.hostNetns, ['curl', '-sS', '--max-time', '3', 'http://app2.com/']);
  const NOT_HELPFUL = 'preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.';
  /** kubectl describe's event line: Type, Reason, Age (maybe "(x2 over 9s)"), From, Message. */
  const failedScheduling = (message: string) => new RegExp(`Warning\\s+FailedScheduling\\s+\\S+(?: \\(x\\d+ over \\S+\\))?\\s+default-scheduler\\s+${message.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\n`);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pplt-sch-'));
    const up = await lab(['up', '--name', instance], { timeoutMs: 180_000 });
    if (up.code !== 0) throw new Error(`lab up failed:\n${up.stderr}\n${up.stdout}`);
    kubeconfig = path.join(dir, 'k3s.yaml');
    await writeFile(kubeconfig, (await lab(['kubeconfig', '--name', instance])).stdout, { mode: 0o600 });
    await until('every pod Ready', allReady, 60_000, 250);
  }, 260_000);

  afterAll(async () => {
    const down = await lab(['down', '--name', instance], { timeoutMs: 120_000 });
    if (down.code !== 0) process.stderr.write(`lab down: ${down.stderr}\n`);
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 150_000);

  it('kubectl drain evicts every pod; the replacements wait with "were unschedulable"; uncordon runs them and app2.com answers', async () => {
    const before = new Set((await pods()).map((p) => p.metadata.name));
    const drain = await kubectl(['drain', 'labs', '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=120s'], 150_000);
    expect(drain.code, drain.stderr).toBe(0);
    expect(drain.stdout).toMatch(/^node\/labs cordoned$/m);
    expect(drain.stdout).toMatch(/^node\/labs drained$/m);
    for (const name of before) expect(drain.stdout).toContain(`pod/${name} evicted`);
    expect((await kubectlOk(['get', 'node', 'labs', '-o', 'jsonpath={.spec.unschedulable} {.spec.taints[*].key}'])).trim()).toBe('true node.kubernetes.io/unschedulable');

    // The ReplicaSets' new pods: Pending, PodScheduled=False Unschedulable with the FitError text.
    const message = `0/1 nodes are available: 1 node(s) were unschedulable. ${NOT_HELPFUL}`;
    const pending = await until('7 new pods, all Unschedulable', async () => {
      const ps = (await pods()).filter((p) => !before.has(p.metadata.name));
      const waiting = ps.filter((p) => p.status.phase === 'Pending' && !p.spec.nodeName && p.status.conditions?.some((c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable'));
      return waiting.length === 7 && ps.length === 7 && waiting;
    }, 30_000, 250);
    for (const p of pending) expect(p.status.conditions!.find((c) => c.type === 'PodScheduled')).toMatchObject({ status: 'False', reason: 'Unschedulable', message });
    const app2Pod = pending.find((p) => p.metadata.name.startsWith('app2-'))!;
    const describe = await kubectlOk(['describe', 'pod', app2Pod.metadata.name]);
    expect(describe).toMatch(/^Status:\s+Pending$/m);
    expect(describe).toMatch(/^Node:\s+<none>$/m);
    expect(describe).toMatch(/^\s+PodScheduled\s+False\s*$/m);
    expect(describe).toMatch(failedScheduling(message));
    expect(describe).toMatch(/^Tolerations:\s+node\.kubernetes\.io\/not-ready:NoExecute op=Exists for 300s$/m);
    expect((await app2()).stdout).not.toContain('Welcome to App 2!');

    expect((await kubectlOk(['uncordon', 'labs'])).trim()).toBe('node/labs uncordoned');
    await until('every pod Ready again', allReady, 90_000, 250);
    expect((await kubectlOk(['get', 'node', 'labs', '-o', 'jsonpath={.spec.taints}'])).trim()).toBe('');
    const events = await kubectlOk(['get', 'events', '--field-selector', `involvedObject.name=${app2Pod.metadata.name}`, '-o', 'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}']);
    expect(events).toContain('Scheduled: Successfully assigned default/' + app2Pod.metadata.name + ' to labs');
    await until('app2.com answers', async () => (await app2()).stdout.includes('Welcome to App 2!'), 30_000, 250);
  }, 300_000);

  it('a nodeSelector no node matches, and a taint the pod does not tolerate: Pending with the exact text; labelled and untainted, it runs', async () => {
    const manifest = path.join(dir, 'ssd.yaml');
    await writeFile(manifest, 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: ssd-only\nspec:\n  nodeSelector:\n    disk: ssd\n  terminationGracePeriodSeconds: 0\n  containers:\n    - name: c\n      image: busybox\n      command: [sleep, "3600"]\n');
    await kubectlOk(['taint', 'node', 'labs', 'dedicated=gpu:NoSchedule']);
    await kubectlOk(['apply', '-f', manifest]);
    const taintMessage = `0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}. ${NOT_HELPFUL}`;
    await until('Unschedulable: the taint', async () => (await kubectlOk(['get', 'pod', 'ssd-only', '-o', 'jsonpath={.status.conditions[?(@.type=="PodScheduled")].message}'])) === taintMessage, 20_000, 250);
    // TaintToleration comes before NodeAffinity: with the taint gone the selector is the reason.
    await kubectlOk(['taint', 'node', 'labs', 'dedicated=gpu:NoSchedule-']);
    const selectorMessage = `0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. ${NOT_HELPFUL}`;
    await until('Unschedulable: the selector', async () => (await kubectlOk(['get', 'pod', 'ssd-only', '-o', 'jsonpath={.status.conditions[?(@.type=="PodScheduled")].message}'])) === selectorMessage, 20_000, 250);
    const describe = await kubectlOk(['describe', 'pod', 'ssd-only']);
    expect(describe).toMatch(/^Node-Selectors:\s+disk=ssd$/m);
    expect(describe).toMatch(failedScheduling(taintMessage));
    expect(describe).toMatch(failedScheduling(selectorMessage));
    await kubectlOk(['label', 'node', 'labs', 'disk=ssd']);
    await until('ssd-only Running on labs', async () => (await kubectlOk(['get', 'pod', 'ssd-only', '-o', 'jsonpath={.spec.nodeName} {.status.phase}'])) === 'labs Running', 30_000, 250);
    await kubectlOk(['delete', 'pod', 'ssd-only']);
  }, 120_000);
});
