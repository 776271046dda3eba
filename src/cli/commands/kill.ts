// `lab kill <pod>`: end a pod's container from outside, to watch the kubelet, the endpoints
// controller and kube-proxy react. The container's process is PID 1 of its own PID namespace, and
// the kernel delivers to it, from outside, only signals it has a handler for (and SIGKILL, which
// is why SIGKILL is the default): busybox httpd ignores SIGTERM and SIGSEGV. The command says so
// rather than sending a signal that would silently do nothing.
import { constants } from 'node:os';
import path from 'node:path';
import { InstanceNotRunningError } from '../../api/errors.ts';
import { netnsExists } from '../../sys/ip.ts';
import { procCaughtSignals, signalProcess } from '../../sys/proc.ts';
import { isNotFound } from '../../client/types.ts';
import { listAllNodes } from '../../kubelet/runc.ts';
import { containerIdOf } from '../../kubelet/runtime.ts';
import { instancePaths, type InstancePaths } from '../../node/instance.ts';
import { dnsSnapshotPath } from '../../dns/publish.ts';
import { ingressDir } from '../../ingress/controller.ts';
import { formatHop, traceCrash, type Hop, type TracedPod, type WatchedFile } from '../../trace/crash.ts';
import { serverClient } from '../api-client.ts';
import { hasApiStore } from '../api-get.ts';
import { labHint, type Common } from '../common.ts';
import { preflight } from '../preflight.ts';

export type Args = Common & { pod: string; container?: string; signal: string; namespace: string; trace?: boolean };

export async function killHandler(a: Args): Promise<void> {
  preflight({ needRoot: true, tools: [] });
  await killPod(a, (line) => process.stdout.write(`${line}\n`));
}

/**
 * `lab kill`'s checks and signal; each line it would print goes to `print` (`lab ui`'s kill button
 * runs this too, with `onHop`: each hop of --trace as data, the pod's Events among them).
 * Resolves whether the whole round trip was seen (--trace), or true.
 */
export async function killPod(a: Args, print: (line: string) => void, onHop?: (h: Hop) => void): Promise<boolean> {
  const sig = (a.signal.startsWith('SIG') ? a.signal : `SIG${a.signal}`).toUpperCase() as NodeJS.Signals;
  if (!(sig in constants.signals)) throw new Error(`unknown signal ${a.signal}`);
  const paths = instancePaths(a.name);
  if (!hasApiStore(paths)) throw new InstanceNotRunningError(a.name, paths.stateDir);
  return killThroughApi(a, sig, paths, print, onHop);
}

/** Refuses a signal PID 1 of the container would never receive from outside. */
function assertDeliverable(sig: NodeJS.Signals, pid: number, what: string): void {
  if (sig !== 'SIGKILL' && sig !== 'SIGSTOP' && !procCaughtSignals(pid)?.has(constants.signals[sig])) {
    throw new Error(`${what} has no handler for ${sig}: its process is PID 1 of the container's PID namespace, and the kernel drops such a signal sent from outside. Use --signal KILL (the default)`);
  }
}

type ApiPod = TracedPod & { spec?: { containers?: { name: string }[] } };

/**
 * The pod comes from the API, its container's process from the runtime (the containerID in the
 * pod's status names the runc container). With --trace, the hops of the crash are printed as the
 * API, the node's rules and the DNS and ingress pods' files show them.
 */
async function killThroughApi(a: Args, sig: NodeJS.Signals, paths: InstancePaths, print: (line: string) => void, onHop?: (h: Hop) => void): Promise<boolean> {
  const client = await serverClient(a.name, paths);
  if (!client) throw new Error(`the server of instance ${a.name} is not running: start it with '${labHint(a.name, 'up')}'`);
  try {
    const pod = await client.get<ApiPod>({ group: '', resource: 'pods' }, a.namespace, a.pod).catch((e: unknown) => {
      throw isNotFound(e) ? new Error(`pods "${a.pod}" not found in namespace ${a.namespace}`) : e;
    });
    const name = a.container ?? pod.spec?.containers?.[0]?.name;
    const st = pod.status?.containerStatuses?.find((c) => c.name === name);
    if (!st) throw new Error(`container ${name} not found in pod ${a.pod}`);
    const id = containerIdOf(st.containerID);
    const running = id ? (await listAllNodes(paths)).map((l) => l.container).find((c) => c.id === id && c.status === 'running') : undefined;
    if (!running) throw new Error(`container ${name} of pod ${a.pod} is not running`);
    assertDeliverable(sig, running.pid, `container ${name} of pod ${a.pod}`);
    const kill = () => {
      signalProcess(running.pid, sig);
      print(`pod/${a.pod}: sent ${sig} to container ${name} (pid ${running.pid})`);
    };
    if (!a.trace) {
      kill();
      return true;
    }
    const nodeNetns = netnsExists(paths.nodeNetns) ? paths.nodeNetns : null;
    const ip = pod.status?.podIP ?? 'its address';
    const files: WatchedFile[] = [
      { who: 'cluster DNS', path: dnsSnapshotPath(paths.stateDir), where: 'the DNS records', unchanged: `no record names ${ip}: a ClusterIP Service's name resolves to its ClusterIP, which did not change (only a headless Service's records list pod addresses)` },
      {
        who: 'ingress-nginx',
        path: path.join(ingressDir(paths.stateDir), 'nginx.conf'),
        where: "nginx.conf's upstreams (reloaded)",
        unchanged: `nginx.conf does not name ${ip}: with service-upstream "true" (the lab's default) nginx sends to the Service's ClusterIP and kube-proxy's rules pick the pod, so nginx was not reloaded`,
      },
    ];
    const whole = await traceCrash(
      {
        client,
        namespace: a.namespace,
        pod: a.pod,
        container: name!,
        nodeNetns,
        files,
        events: Boolean(onHop),
        onHop: (h) => {
          print(formatHop(h));
          onHop?.(h);
        },
        onNote: print,
      },
      kill,
    );
    if (!whole) {
      if (!onHop) process.exitCode = 1;
      print('the round trip was not seen to the end (the pod was deleted, or the time ran out)');
    }
    return whole;
  } finally {
    client.close();
  }
}
