// Issue 2 acceptance: the default scenario as real pods on a cni0 bridge in a sandbox, run by the
// instance's server (`lab up`): the pods are API objects, their sandboxes are found in the
// kernel (test/e2e/pod-sandbox.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diff, snapshot, type Residue } from '../residue.ts';
import { cmd, curl, getPods, inNetns, instanceName, isRoot, lab, labOk, type PodJson } from './helpers.ts';
import { podNetns, podVeth } from './pod-sandbox.ts';

const A = instanceName('e2ea');
const B = instanceName('e2eb');

/** Residue of this file's instances (other sandboxes may come and go on a shared machine). */
const ours = (problems: string[]) => problems.filter((p) => p.startsWith('root namespace') || p.includes(A) || p.includes(B) || /processes left/.test(p));

const PAGES: Record<string, string> = { app1: 'Hello from app1.', app2: 'Welcome to App 2!', app3: 'Hello from app3.' };

describe.skipIf(!isRoot)('foundation: pods on cni0 in a sandbox', () => {
  let before: Residue;
  let pods: PodJson[];

  beforeAll(async () => {
    before = snapshot();
    await labOk(['up', '--name', A]);
    pods = await getPods(A);
  });

  afterAll(async () => {
    await lab(['down', '--name', A]);
    await lab(['down', '--name', B]);
  });

  it('runs the five pods of the default scenario with names, labels and IPs, each in its own netns on a veth of cni0', async () => {
    expect(pods).toHaveLength(5);
    const apps = pods.map((p) => p.metadata.labels.app).sort();
    expect(apps).toEqual(['app1', 'app2', 'app2', 'app2', 'app3']);
    for (const p of pods) {
      const app = p.metadata.labels.app!;
      const hash = p.metadata.labels['pod-template-hash']!;
      expect(p.metadata.name).toMatch(new RegExp(`^${app}-${hash}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
      expect(p.status.phase).toBe('Running');
      expect(p.status.podIP).toMatch(/^10\.42\.0\.\d+$/);
      // The API object carries no sandbox details; the kernel has them: the pod's namespace, its
      // eth0 holding the pod IP, and the node's end of the veth (named by the bridge plugin: veth + 8 random hex).
      const ns = podNetns(A, p.metadata.name);
      expect(ns).toBe(`${A}-${p.metadata.name}`);
      expect((await inNetns(ns, ['ip', '-4', 'addr', 'show', 'eth0'])).stdout).toContain(`inet ${p.status.podIP}/24`);
      expect(await podVeth(A, p.metadata.name)).toMatch(/^veth[0-9a-f]{8}$/);
    }
    expect(new Set(pods.map((p) => p.status.podIP)).size).toBe(5);
  });

  it('serves each app page from the node namespace, straight to the pod IP', async () => {
    for (const p of pods) {
      const r = await curl(`${A}-node`, `http://${p.status.podIP}/`);
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain(PAGES[p.metadata.labels.app!]);
    }
  });

  it('carries pod-to-pod traffic over cni0', async () => {
    const from = pods.find((p) => p.metadata.labels.app === 'app1')!;
    const to = pods.find((p) => p.metadata.labels.app === 'app3')!;
    const r = await inNetns(podNetns(A, from.metadata.name), ['busybox', 'wget', '-qO-', `http://${to.status.podIP}/`]);
    expect(r.stdout).toContain(PAGES.app3);
    // The pod's own view, as flannel's delegate config has the bridge plugin make it: default route
    // via cni0's 10.42.0.1 (isDefaultGateway) and the cluster CIDR through it (FLANNEL_NETWORK).
    const route = await inNetns(podNetns(A, from.metadata.name), ['ip', 'route']);
    expect(route.stdout).toContain('default via 10.42.0.1 dev eth0');
    expect(route.stdout).toContain('10.42.0.0/16 via 10.42.0.1 dev eth0');
  });

  it('attaches one veth per pod to cni0, with hairpin on', async () => {
    const r = await cmd(['ip', '-n', `${A}-node`, '-d', 'link', 'show', 'master', 'cni0']);
    const names = [...r.stdout.matchAll(/^\d+: (veth[0-9a-f]{8})@/gm)].map((m) => m[1]);
    const all = await getPods(A, true); // the 5 app pods and the kube-system DNS and ingress pods
    expect(all).toHaveLength(7);
    expect(names.sort()).toEqual((await Promise.all(all.map((p) => podVeth(A, p.metadata.name)))).sort());
    expect(r.stdout.match(/hairpin on/g)).toHaveLength(7);
    // subnet.env's FLANNEL_MTU (1450: room for VXLAN's headers) on cni0, every port and every eth0.
    expect(r.stdout.match(/ mtu 1450 /g)).toHaveLength(7);
    expect((await cmd(['ip', '-n', `${A}-node`, 'link', 'show', 'cni0'])).stdout).toMatch(/ mtu 1450 /);
    for (const p of all) expect((await inNetns(podNetns(A, p.metadata.name), ['ip', 'link', 'show', 'eth0'])).stdout).toMatch(/ mtu 1450 /);
  });

  it('gives pods their hostname, hosts and resolv.conf, seen by ip netns exec', async () => {
    const p = pods[0]!;
    const ns = podNetns(A, p.metadata.name);
    expect((await inNetns(ns, ['cat', '/etc/resolv.conf'])).stdout).toBe('search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.43.0.10\noptions ndots:5\n');
    expect((await inNetns(ns, ['cat', '/etc/hosts'])).stdout).toContain(`${p.status.podIP}\t${p.metadata.name}`);
    const pid = p.status.containerStatuses[0]!.pid!;
    expect((await cmd(['nsenter', '-t', String(pid), '-u', 'hostname'])).stdout.trim()).toBe(p.metadata.name);
  });

  it('is idempotent: a second up (the server already running: it only waits) keeps names, IPs and pids', async () => {
    await labOk(['up', '--name', A]);
    const again = await getPods(A);
    const view = (ps: PodJson[]) => ps.map((p) => [p.metadata.name, p.status.podIP, p.status.containerStatuses[0]?.pid]).sort();
    expect(view(again)).toEqual(view(pods));
    // ...and the pods still serve their pages (volumes rewritten in place, not replaced).
    for (const p of again) expect((await curl(`${A}-node`, `http://${p.status.podIP}/`)).stdout).toContain(PAGES[p.metadata.labels.app!]);
  });

  it('runs a second instance side by side without collisions', async () => {
    await labOk(['up', '--name', B]);
    const podsB = await getPods(B);
    expect(podsB).toHaveLength(5);
    for (const p of podsB) expect((await curl(`${B}-node`, `http://${p.status.podIP}/`)).stdout).toContain(PAGES[p.metadata.labels.app!]);
    // Instance A is untouched.
    expect((await curl(`${A}-node`, `http://${pods[0]!.status.podIP}/`)).stdout).toContain(PAGES[pods[0]!.metadata.labels.app!]);
    await labOk(['down', '--name', B]);
  });

  it('down removes everything, down again is fine, and up works afterwards', async () => {
    await labOk(['down', '--name', A]);
    expect(ours(diff(before, snapshot()))).toEqual([]);
    await labOk(['down', '--name', A]);
    await labOk(['up', '--name', A]);
    const fresh = await getPods(A);
    expect(fresh).toHaveLength(5);
    expect((await curl(`${A}-node`, `http://${fresh[0]!.status.podIP}/`)).stdout).toContain(PAGES[fresh[0]!.metadata.labels.app!]);
    await labOk(['down', '--name', A]);
    expect(ours(diff(before, snapshot()))).toEqual([]);
  });
});
