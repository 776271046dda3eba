// `lab exec <pod> -- <command>`: kubectl exec. The command joins the container's process in its
// network, UTS and mount namespaces and its root directory (nsenter --target <pid>), so it sees
// what the container sees: the pod's eth0, its hostname, its root filesystem (busybox for app
// pods) with /etc/resolv.conf pointing at the cluster DNS — and the container's environment.
import { isContainerAlive } from '../../kubelet/runtime.ts';
import { findPod, pickContainer } from '../../trace/lookup.ts';
import { procEnviron } from '../../sys/proc.ts';
import { runInteractive } from '../../sys/stream.ts';
import { labHint, log, runningState, type Common } from '../common.ts';
import { preflight, tools } from '../preflight.ts';

export type Args = Common & { pod: string; command?: string[]; '--'?: string[]; container?: string; namespace?: string };

/** The nsenter argv for a command in a container (pure, for tests and --dry-run readers). */
export function execArgv(pid: number, workingDir: string, command: string[]): string[] {
  // --wdns: the working directory is resolved inside the container's root (kubectl exec starts
  // in the container's workingDir, not wherever its main process has chdir'ed to).
  return ['nsenter', '--target', String(pid), '--net', '--uts', '--mount', '--root', `--wdns=${workingDir}`, '--', ...command];
}

export async function execHandler(a: Args): Promise<void> {
  const command = [...(a.command ?? []), ...(a['--'] ?? [])].map(String);
  if (command.length === 0) throw new Error('no command: lab exec <pod> -- <command> [args...]');
  preflight({ needRoot: true, tools: tools('nsenter') });
  const state = await runningState(a.name);
  const pod = findPod(state, a.pod, a.namespace);
  const c = pickContainer(pod, a.container);
  if (c.defaulted) log(`Defaulted container "${c.name}" out of: ${pod.spec.containers.map((x) => x.name).join(', ')}`);
  const status = pod.status.containerStatuses.find((s) => s.name === c.name);
  const netns = pod.metadata.annotations['lab/netns'] ?? '';
  if (!status?.pid || !isContainerAlive(status.pid, netns)) {
    const why = status?.state.waiting ? `${status.state.waiting.reason}${status.state.waiting.message ? `: ${status.state.waiting.message}` : ''}` : status?.state.terminated ? `terminated (${status.state.terminated.reason}, exit ${status.state.terminated.exitCode})` : pod.metadata.annotations['lab/deleting'] ? 'the pod is terminating' : 'no running process';
    throw new Error(`container ${c.name} of pod ${pod.metadata.name} is not running (${why}); see '${labHint(a.name, `describe pod ${pod.metadata.name}`)}'`);
  }
  const spec = pod.spec.containers.find((x) => x.name === c.name)!;
  const env = procEnviron(status.pid) ?? {};
  if (process.env.TERM && !env.TERM) env.TERM = process.env.TERM;
  const code = await runInteractive(execArgv(status.pid, spec.workingDir ?? '/', command), { env });
  process.exitCode = code;
}
