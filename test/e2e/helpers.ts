// Shared by the e2e tests: run the real `lab` CLI, run commands inside the lab's namespaces, and
// always tear the instance down again.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { runtimeFor } from '../../src/kubelet/runc.ts';
import { instancePaths } from '../../src/node/instance.ts';

const pexec = promisify(execFile);
export const ROOT = path.resolve(import.meta.dirname, '../..');
export const LAB_BIN = path.join(ROOT, 'bin/lab.js');
export const isRoot = process.getuid?.() === 0;

/**
 * An instance name unique to this test process, so that two test runs on one machine (a
 * developer's and a CI check, say) never share a sandbox. At most 16 characters.
 */
export function instanceName(base: string): string {
  return `${base}-${process.pid.toString(36)}`.slice(0, 16);
}

export interface CmdResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** `env` adds to (or overrides) this process's environment. */
export async function cmd(argv: string[], opts: { timeoutMs?: number; cwd?: string; env?: Record<string, string> } = {}): Promise<CmdResult> {
  try {
    const env = opts.env ? { ...process.env, ...opts.env } : undefined;
    const { stdout, stderr } = await pexec(argv[0]!, argv.slice(1), { cwd: opts.cwd ?? ROOT, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20, encoding: 'utf8', env });
    return { stdout, stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; code?: number | string };
    return { stdout: err.stdout ?? '', stderr: err.stderr ?? String(e), code: typeof err.code === 'number' ? err.code : 1 };
  }
}

export function lab(args: string[], opts: { timeoutMs?: number } = {}): Promise<CmdResult> {
  return cmd([process.execPath, LAB_BIN, ...args], { timeoutMs: opts.timeoutMs ?? 120_000 });
}

export async function labOk(args: string[]): Promise<CmdResult> {
  const r = await lab(args);
  if (r.code !== 0) throw new Error(`lab ${args.join(' ')} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r;
}

export function inNetns(netns: string, argv: string[], opts: { timeoutMs?: number } = {}): Promise<CmdResult> {
  return cmd(['ip', 'netns', 'exec', netns, ...argv], opts);
}

/** curl from inside a namespace; returns the body ('' and the code on failure). */
export async function curl(netns: string, url: string, extra: string[] = []): Promise<CmdResult> {
  return inNetns(netns, ['curl', '-sS', '--max-time', '5', ...extra, url]);
}

export interface PodJson {
  metadata: { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> };
  status: { podIP?: string; phase: string; conditions: { type: string; status: string }[]; containerStatuses: { pid?: number; restartCount: number }[] };
}

/**
 * The instance's pods as `lab get pods -o json` prints them. For an instance run by its server
 * (`lab up`) these are the API's objects, which carry no pid: each running container's pid
 * is added from the runtime, found by the containerID the kubelet wrote (as `crictl inspect` would).
 */
export async function getPods(instance: string, allNamespaces = false): Promise<PodJson[]> {
  const r = await labOk(['get', 'pods', '--name', instance, '-o', 'json', ...(allNamespaces ? ['-A'] : [])]);
  const items = (JSON.parse(r.stdout) as { items: PodJson[] }).items;
  const paths = instancePaths(instance);
  if (!existsSync(paths.storeFile)) return items;
  const running = new Map((await runtimeFor(paths).listContainers()).filter((c) => c.status === 'running').map((c) => [c.id, c.pid]));
  for (const p of items) {
    p.metadata.annotations ??= {};
    p.metadata.labels ??= {};
    p.status.conditions ??= [];
    p.status.containerStatuses ??= [];
    for (const c of p.status.containerStatuses as { pid?: number; containerID?: string; state?: { running?: object } }[]) {
      const id = c.containerID?.replace(/^runc:\/\//, '');
      if (id && c.state?.running && running.has(id)) c.pid = running.get(id);
    }
  }
  return items;
}

/**
 * A one-replica Deployment (label app=<name>) whose container `main` runs `script` with `sh -c`.
 * `podSpec` and `container`: more YAML lines for the pod spec and the container, indented 6 and
 * 10 spaces.
 */
export function shDeployment(o: { name: string; namespace?: string; image?: string; script: string; podSpec?: string; container?: string }): string {
  return `
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${o.name}
${o.namespace ? `  namespace: ${o.namespace}\n` : ''}spec:
  replicas: 1
  selector:
    matchLabels:
      app: ${o.name}
  template:
    metadata:
      labels:
        app: ${o.name}
    spec:
${o.podSpec ?? ''}
      containers:
        - name: main
          image: ${o.image ?? 'busybox'}
          command: ["sh", "-c", ${JSON.stringify(o.script)}]
${o.container ?? ''}`;
}

/**
 * The source-address app: a Deployment `srcip` whose pod answers /cgi-bin/ip with the peer address
 * its socket saw (busybox httpd's CGI REMOTE_ADDR), and a Service `srcip` of `type` with
 * externalTrafficPolicy: Local, port `port` to the pod's 80. `podSpec` as shDeployment's.
 */
export function sourceIpApp(o: { type: 'NodePort' | 'LoadBalancer'; port: number; podSpec?: string }): string {
  const cgi = "mkdir -p /www/cgi-bin && printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho $REMOTE_ADDR\\n' > /www/cgi-bin/ip && chmod 755 /www/cgi-bin/ip && exec httpd -f -p 80 -h /www";
  return `${shDeployment({ name: 'srcip', script: cgi, ...(o.podSpec ? { podSpec: o.podSpec } : {}) })}
---
apiVersion: v1
kind: Service
metadata:
  name: srcip
spec:
  type: ${o.type}
  externalTrafficPolicy: Local
  selector:
    app: srcip
  ports:
    - name: http
      port: ${o.port}
      targetPort: 80
`;
}

/** A private copy of lab/cluster.yaml a test can edit while a controller watches it. */
export interface EditableState {
  dir: string;
  /** Path of the copy. */
  state: string;
  /** The default state's text, to derive edits from. */
  original: string;
  remove(): Promise<void>;
}

export async function editableState(prefix: string, extra = ''): Promise<EditableState> {
  const { mkdtemp, readFile, rm, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(path.join(tmpdir(), `pplt-${prefix}-`));
  const state = path.join(dir, 'cluster.yaml');
  const original = await readFile(path.join(ROOT, 'lab/cluster.yaml'), 'utf8');
  await writeFile(state, original + extra);
  return { dir, state, original, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Polls `fn` until it returns something truthy (returned), or throws after `timeoutMs`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Real kubectl against a kubeconfig file (read when called: suites set it in beforeAll). */
export function kubectlFor(kubeconfig: () => string): { kubectl(args: string[], timeoutMs?: number): Promise<CmdResult>; kubectlOk(args: string[]): Promise<string> } {
  const kubectl = (args: string[], timeoutMs = 60_000) => cmd(['kubectl', '--kubeconfig', kubeconfig(), ...args], { timeoutMs });
  const kubectlOk = async (args: string[]) => {
    const r = await kubectl(args);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  return { kubectl, kubectlOk };
}

/**
 * `lab up --name <instance> [args]` for a suite, which must converge, and the instance's admin
 * kubeconfig written to `<dir>/k3s.yaml` (returned).
 */
export async function upWithKubeconfig(instance: string, dir: string, args: string[] = [], timeoutMs = 180_000): Promise<string> {
  const up = await lab(['up', '--name', instance, ...args], { timeoutMs });
  if (up.code !== 0) throw new Error(`lab up ${args.join(' ')} failed:\n${up.stderr}\n${up.stdout}`);
  if (!/converged in [\d.]+s/.test(up.stderr)) throw new Error(`lab up ${args.join(' ')} did not say it converged:\n${up.stderr}`);
  const kubeconfig = path.join(dir, 'k3s.yaml');
  await writeFile(kubeconfig, (await lab(['kubeconfig', '--name', instance])).stdout, { mode: 0o600 });
  return kubeconfig;
}

/** A suite's end: `lab down` of its instance (a failure is printed, the suite's residue check judges) and its directory. */
export async function downAndRemove(instance: string, dir: string | undefined, timeoutMs = 180_000): Promise<void> {
  const down = await lab(['down', '--name', instance], { timeoutMs });
  if (down.code !== 0) process.stderr.write(`lab down: ${down.stderr}\n`);
  if (dir) await rm(dir, { recursive: true, force: true });
}
