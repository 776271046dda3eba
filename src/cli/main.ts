// `lab`: the command line. Every subcommand reads the same per-instance state the controller
// writes, so `lab get` works from another terminal while `lab up` runs.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ValidationError } from '../api/errors.ts';
import { readState } from '../api/store.ts';
import type { Pod } from '../api/types.ts';
import { down, up } from '../controllers/lab.ts';
import { Controller } from '../controllers/controller.ts';
import { acquireControllerLock, releaseControllerLock, stopController } from './lock.ts';
import { instancePaths } from '../node/instance.ts';
import { asList, endpointsTable, podStatusText, podsTable, servicesTable, table, age } from './format.ts';
import { preflight } from './preflight.ts';
import { commands } from './commands/index.ts';
import { eventsCommand } from './commands/events.ts';
import { killCommand } from './commands/kill.ts';
import { proxyCommand } from './commands/proxy.ts';
import { common, log, type Common } from './common.ts';

async function cmdUp(a: Common & { mode?: 'host' | 'sandbox'; watch: boolean }): Promise<void> {
  preflight({ needRoot: true });
  const t0 = Date.now();
  const opts = { instance: a.name, statePath: a.state, configPath: a.config, mode: a.mode, log };
  const controller = a.watch ? new Controller(opts) : null;
  if (controller) await acquireControllerLock(a.name);
  const r = controller ? await controller.start() : await up(opts);
  const pods = Object.values(r.state.pods);
  process.stdout.write(podsTable(pods, { wide: true, allNamespaces: true }));
  const paths = instancePaths(a.name);
  const lab = a.name === 'lab' ? 'lab' : `lab --name ${a.name}`;
  const inNode = r.node.mode === 'sandbox' ? `ip netns exec ${paths.nodeNetns} ` : '';
  const first = pods.find((p) => p.status.podIP);
  log(`\n${r.created.length} pod(s) created, ${r.deleted.length} deleted, ${pods.length} running (${((Date.now() - t0) / 1000).toFixed(1)}s).`);
  log('Try this next:');
  log(`  sudo ${lab} get pods -o wide`);
  if (first) log(`  sudo ${inNode}curl -s http://${first.status.podIP}/            # ${first.metadata.name}, straight to the pod`);
  log(`  sudo ip ${r.node.netns ? `-n ${r.node.netns} ` : ''}link show master cni0        # one veth per pod`);
  log(`  sudo ${lab} down`);
  if (!controller) return;
  log(`\nWatching ${a.state} and ${a.config}: edit them and the lab reconciles. Ctrl-C stops the controller (the lab keeps running).`);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log(`\n${sig}: controller stopped. The lab keeps running: 'sudo ${lab} up --watch' resumes, 'sudo ${lab} down' removes it.`);
      void controller.stop().then(() => releaseControllerLock(a.name)).then(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

async function loadPods(name: string): Promise<Pod[]> {
  const state = await readState(instancePaths(name).stateFile);
  if (!state) throw new Error(`instance ${name} is not running (no state under ${instancePaths(name).stateDir}); start it with 'lab up'`);
  return Object.values(state.pods).sort((a, b) => a.metadata.namespace.localeCompare(b.metadata.namespace) || a.metadata.name.localeCompare(b.metadata.name));
}

type GetArgs = Common & { resource: string; names?: string[]; output?: string; 'all-namespaces': boolean; namespace: string; watch?: boolean };

/** kubectl get pods -w: a line whenever a pod's row changes (status, readiness, restarts, IP). */
async function watchPods(a: GetArgs, pods: Pod[]): Promise<never> {
  const sig = (p: Pod) => JSON.stringify([podStatusText(p), p.status.containerStatuses.map((c) => [c.ready, c.restartCount]), p.status.podIP]);
  const shown = new Map(pods.map((p) => [p.metadata.name, sig(p)]));
  for (;;) {
    await new Promise((r) => setTimeout(r, 200));
    const now = (await loadPods(a.name)).filter((p) => (a['all-namespaces'] || p.metadata.namespace === a.namespace) && (!a.names?.length || a.names.includes(p.metadata.name)));
    const changed = now.filter((p) => shown.get(p.metadata.name) !== sig(p));
    for (const p of changed) shown.set(p.metadata.name, sig(p));
    if (changed.length) process.stdout.write(podsTable(changed, { wide: a.output === 'wide', allNamespaces: a['all-namespaces'] }).split('\n').slice(1).join('\n'));
  }
}

async function cmdGet(a: GetArgs): Promise<void> {
  const res = a.resource.toLowerCase();
  const format = a.output === 'json' || a.output === 'yaml' ? a.output : undefined;
  const wide = a.output === 'wide';
  const state = await readState(instancePaths(a.name).stateFile);
  if (!state) throw new Error(`instance ${a.name} is not running; start it with 'lab up'`);
  const named = (n: string) => !a.names?.length || a.names.includes(n);
  const inNs = <T extends { metadata: { namespace: string; name: string } }>(xs: T[]) => xs.filter((x) => (a['all-namespaces'] || x.metadata.namespace === a.namespace) && named(x.metadata.name));
  if (['pods', 'pod', 'po'].includes(res)) {
    const pods = inNs(await loadPods(a.name));
    if (format) return void process.stdout.write(asList(pods, format));
    if (pods.length === 0 && !a.watch) return void log(`No resources found in ${a.namespace} namespace.`);
    process.stdout.write(podsTable(pods, { wide, allNamespaces: a['all-namespaces'] }));
    if (a.watch) await watchPods(a, pods);
    return;
  }
  if (['nodes', 'node', 'no'].includes(res)) {
    const node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: state.nodeName, labels: { 'kubernetes.io/hostname': state.nodeName }, annotations: { 'lab/netns': state.mode === 'sandbox' ? instancePaths(a.name).nodeNetns : '<host>', 'lab/mode': state.mode } },
      status: { addresses: [{ type: 'InternalIP', address: state.nodeIP }, { type: 'Hostname', address: state.nodeName }], conditions: [{ type: 'Ready', status: 'True' }] },
    };
    if (format) return void process.stdout.write(asList([node], format));
    const header = ['NAME', 'STATUS', 'ROLES', 'AGE', ...(wide ? ['INTERNAL-IP', 'MODE', 'NETNS'] : [])];
    const row = [state.nodeName, 'Ready', 'control-plane,master', age(state.createdAt), ...(wide ? [state.nodeIP, state.mode, node.metadata.annotations['lab/netns']] : [])];
    return void process.stdout.write(table(header, [row]));
  }
  if (['deployments', 'deployment', 'deploy'].includes(res)) {
    const pods = await loadPods(a.name);
    const byDep = new Map<string, Pod[]>();
    for (const p of pods) {
      const d = p.metadata.annotations['lab/deployment'];
      if (d) byDep.set(`${p.metadata.namespace}/${d}`, [...(byDep.get(`${p.metadata.namespace}/${d}`) ?? []), p]);
    }
    const items = [...byDep].filter(([k]) => a['all-namespaces'] || k.startsWith(`${a.namespace}/`)).map(([k, ps]) => {
      const [namespace, name] = k.split('/') as [string, string];
      const ready = ps.filter((p) => p.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True')).length;
      return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace }, status: { replicas: ps.length, readyReplicas: ready, availableReplicas: ready, updatedReplicas: ps.length }, _created: ps.map((p) => p.metadata.creationTimestamp ?? '').sort()[0] };
    });
    if (format) return void process.stdout.write(asList(items.map(({ _created, ...d }) => d), format));
    const header = [...(a['all-namespaces'] ? ['NAMESPACE'] : []), 'NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE'];
    return void process.stdout.write(
      table(header, items.map((d) => [...(a['all-namespaces'] ? [d.metadata.namespace] : []), d.metadata.name, `${d.status.readyReplicas}/${d.status.replicas}`, String(d.status.updatedReplicas), String(d.status.availableReplicas), age(d._created)])),
    );
  }
  if (['services', 'service', 'svc'].includes(res)) {
    const svcs = inNs(state.services ?? []);
    if (format) return void process.stdout.write(asList(svcs, format));
    return void process.stdout.write(servicesTable(svcs, { wide, allNamespaces: a['all-namespaces'], nodeIP: state.nodeIP }));
  }
  if (['endpoints', 'endpoint', 'ep'].includes(res)) {
    const eps = inNs(state.endpoints ?? []);
    if (format) return void process.stdout.write(asList(eps, format));
    return void process.stdout.write(endpointsTable(eps, { allNamespaces: a['all-namespaces'] }));
  }
  throw new Error(`unknown resource type ${JSON.stringify(a.resource)}: use pods, nodes, deployments, services or endpoints`);
}

async function main(): Promise<void> {
  await yargs(hideBin(process.argv))
    .scriptName('lab')
    .usage('$0 <command> [options]\n\nRebuilds the Kubernetes packet path out of real Linux kernel objects.')
    .command('up', 'create or reconcile the lab from the state file', (y) => common(y).option('watch', { alias: 'w', type: 'boolean', default: false, describe: 'stay in the foreground: watch the state files, restart crashed containers, run probes' }).option('mode', { choices: ['host', 'sandbox'] as const, describe: 'host: this namespace is the node (the Vagrant VM); sandbox: a namespace stands in for it (default unless an interface holds the node IP)' }), (a) => cmdUp(a))
    .command('down', 'remove everything of the instance (idempotent)', (y) => common(y), async (a) => {
      preflight({ needRoot: true, tools: [] });
      const stopped = await stopController(a.name);
      if (stopped) log(`stopped the controller of instance ${a.name} (pid ${stopped})`);
      await down({ instance: a.name, log });
    })
    .command('get <resource> [names..]', 'list pods, nodes, deployments, services or endpoints, like kubectl get', (y) =>
      common(y)
        .positional('resource', { type: 'string', demandOption: true })
        .positional('names', { type: 'string', array: true, describe: 'only these objects' })
        .option('output', { alias: 'o', type: 'string', choices: ['wide', 'json', 'yaml'] })
        .option('all-namespaces', { alias: 'A', type: 'boolean', default: false })
        .option('namespace', { alias: 'n', type: 'string', default: 'default' })
        .option('watch', { alias: 'w', type: 'boolean', default: false, describe: 'pods: print a line whenever one changes' }),
      (a) => cmdGet(a as never),
    )
    .command([...commands, eventsCommand, killCommand, proxyCommand] as never)
    .demandCommand(1)
    .strict()
    .help()
    .fail((msg, err, y) => {
      if (err) throw err;
      y.showHelp();
      process.stderr.write(`\n${msg}\n`);
      process.exit(2);
    })
    .parseAsync();
}

main().catch((e: unknown) => {
  if (e instanceof ValidationError) process.stderr.write(`error: invalid lab state\n${e.message}\n`);
  else process.stderr.write(`error: ${(e as Error).message}\n`);
  process.exit(1);
});
