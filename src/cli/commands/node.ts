// `lab node stop|start <node>`: an agent's machine fails and comes back, as a VM would
// (src/controllers/agent-machines.ts). Stop kills its agent and takes its eth1 down; after the
// node monitor grace period the node lifecycle controller calls it NotReady, taints it, and its
// pods are evicted once their toleration runs out. Start brings eth1 up; the server starts the
// agent again, which takes its pods up where they are.
import { startMachine, stopMachine } from '../../controllers/agent-machines.ts';
import { dns1123SubdomainProblem } from '../../api/names.ts';
import { instancePaths } from '../../node/instance.ts';
import { log } from '../common.ts';
import { preflight } from '../preflight.ts';

export type Args = { name: string; action: 'stop' | 'start'; node: string };

export async function nodeHandler(a: Args): Promise<void> {
  preflight({ needRoot: true });
  const problem = dns1123SubdomainProblem(a.node);
  if (problem) throw new Error(`node name: ${problem}`);
  const paths = instancePaths(a.name);
  if (a.action === 'stop') {
    await stopMachine(paths, a.node);
    log(`node ${a.node} stopped: its agent is gone and its eth1 down. Watch it go NotReady (after the node monitor grace period, 40 s by default): kubectl get nodes -w`);
  } else {
    await startMachine(paths, a.node);
    log(`node ${a.node} started: the server starts its agent within seconds`);
  }
}
