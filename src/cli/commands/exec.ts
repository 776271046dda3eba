// `lab exec <pod> -- <command>`: kubectl exec. The command runs inside the container through the
// runtime (`runc exec`, as the CRI's Exec): in the container's PID, mount, network, IPC and UTS
// namespaces, with its root filesystem, environment, working directory and capabilities, so
// `ps` shows the container's own processes with its command as PID 1.
import { isTerminating } from '../../api/types.ts';
import { instancePaths } from '../../node/instance.ts';
import { podNetns } from '../../kubelet/kubelet.ts';
import { listAllNodes } from '../../kubelet/runc.ts';
import { containerIdOf, isContainerAlive } from '../../kubelet/runtime.ts';
import { findPod, pickContainer } from '../../trace/lookup.ts';
import { runInteractive } from '../../sys/stream.ts';
import { labHint, log, runningState, type Common } from '../common.ts';
import { preflight, tools } from '../preflight.ts';

export type Args = Common & { pod: string; command?: string[]; '--'?: string[]; container?: string; namespace?: string; tty?: boolean; stdin?: boolean };

export async function execHandler(a: Args): Promise<void> {
  const command = [...(a.command ?? []), ...(a['--'] ?? [])].map(String);
  if (command.length === 0) throw new Error('no command: lab exec <pod> -- <command> [args...]');
  preflight({ needRoot: true, tools: tools('runc') });
  const state = await runningState(a.name);
  const pod = findPod(state, a.pod, a.namespace);
  const c = pickContainer(pod, a.container);
  if (c.defaulted) log(`Defaulted container "${c.name}" out of: ${pod.spec.containers.map((x) => x.name).join(', ')}`);
  const status = pod.status.containerStatuses.find((s) => s.name === c.name);
  const id = containerIdOf(status?.containerID);
  if (!status?.pid || !id || !isContainerAlive(status.pid, podNetns(pod))) {
    const why = status?.state.waiting ? `${status.state.waiting.reason}${status.state.waiting.message ? `: ${status.state.waiting.message}` : ''}` : status?.state.terminated ? `terminated (${status.state.terminated.reason}, exit ${status.state.terminated.exitCode})` : isTerminating(pod) ? 'the pod is terminating' : 'no running process';
    throw new Error(`container ${c.name} of pod ${pod.metadata.name} is not running (${why}); see '${labHint(a.name, `describe pod ${pod.metadata.name}`)}'`);
  }
  // kubectl exec -it: a terminal only when asked for and there is one.
  const tty = Boolean(a.tty) && Boolean(process.stdin.isTTY);
  // The runtime of the pod's node (in the sandbox each agent's machine has its own runc root).
  const runtime = (await listAllNodes(instancePaths(a.name))).find((l) => l.container.id === id)?.runtime;
  if (!runtime) throw new Error(`container ${c.name} of pod ${pod.metadata.name} is not in any node's runtime`);
  const argv = runtime.execArgv(id, command, { tty });
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
  if (process.env.TERM) env.TERM = process.env.TERM;
  process.exitCode = await runInteractive(argv, { env });
}
