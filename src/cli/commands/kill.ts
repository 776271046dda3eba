// `lab kill <pod>`: end a pod's container from outside, to watch the kubelet, the endpoints
// controller and kube-proxy react. The container's process is PID 1 of its own PID namespace, and
// the kernel delivers to it, from outside, only signals it has a handler for (and SIGKILL, which
// is why SIGKILL is the default): busybox httpd ignores SIGTERM and SIGSEGV. The command says so
// rather than sending a signal that would silently do nothing.
import { constants } from 'node:os';
import { podNetns } from '../../kubelet/kubelet.ts';
import { isContainerAlive } from '../../kubelet/runtime.ts';
import { procCaughtSignals, signalProcess } from '../../sys/proc.ts';
import { runningState, type Common } from '../common.ts';
import { preflight } from '../preflight.ts';

export type Args = Common & { pod: string; container?: string; signal: string; namespace: string };

export async function killHandler(a: Args): Promise<void> {
  preflight({ needRoot: true, tools: [] });
  const sig = (a.signal.startsWith('SIG') ? a.signal : `SIG${a.signal}`).toUpperCase() as NodeJS.Signals;
  if (!(sig in constants.signals)) throw new Error(`unknown signal ${a.signal}`);
  const state = await runningState(a.name);
  const pod = Object.values(state.pods).find((p) => p.metadata.name === a.pod && (p.metadata.namespace === a.namespace || a.namespace === 'default'));
  if (!pod) throw new Error(`pods "${a.pod}" not found in instance ${a.name}`);
  const st = a.container ? pod.status.containerStatuses.find((c) => c.name === a.container) : pod.status.containerStatuses[0];
  if (!st) throw new Error(`container ${a.container} not found in pod ${a.pod}`);
  // Only a process that is alive inside this pod's network namespace is signalled.
  if (!st.pid || !isContainerAlive(st.pid, podNetns(pod))) throw new Error(`container ${st.name} of pod ${a.pod} is not running`);
  const signo = constants.signals[sig];
  if (sig !== 'SIGKILL' && sig !== 'SIGSTOP' && !procCaughtSignals(st.pid)?.has(signo)) {
    throw new Error(`container ${st.name} of pod ${a.pod} has no handler for ${sig}: its process is PID 1 of the container's PID namespace, and the kernel drops such a signal sent from outside. Use --signal KILL (the default)`);
  }
  signalProcess(st.pid, sig);
  process.stdout.write(`pod/${a.pod}: sent ${sig} to container ${st.name} (pid ${st.pid})\n`);
}
