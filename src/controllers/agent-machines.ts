// The sandbox's agents, as Vagrant and systemd keep a VM's `k3s agent` running: for each agent the
// server's config names, a machine (a namespace on the laptop's network, node/setup.ts) and an
// agent process inside it (`nsenter --net=/run/netns/<instance>-node-<node> lab agent ...`), started again if
// it exits. An agent that leaves the config is stopped, its Node deleted (`kubectl delete node`),
// its pods and machine removed. Each agent's PID is recorded with its start time in
// agents/<node>/agent.pid, so that `lab down` or a later server ends that process and no other.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LAB_ROOT } from '../api/system.ts';
import type { AgentConfig } from '../api/types.ts';
import type { Client, KubeObject } from '../client/types.ts';
import { isNotFound } from '../client/types.ts';
import { removePods } from '../kubelet/teardown.ts';
import { runtimeFor } from '../kubelet/runc.ts';
import { agentPaths, agentsDir, type InstancePaths } from '../node/instance.ts';
import { ensureSandbox } from '../node/setup.ts';
import { netnsExists } from '../sys/ip.ts';
import { isRunning, procStartTicks, signalProcess } from '../sys/proc.ts';
import { run } from '../sys/exec.ts';
import { spawnDetached } from '../sys/stream.ts';
import { podsOf } from './node-pods.ts';

/** How long an agent has after SIGTERM before SIGKILL. */
const AGENT_STOP_MS = 5_000;
/** systemd's RestartSec for k3s-agent. */
const RESTART_MS = 2_000;

export function agentPidFile(paths: InstancePaths, node: string): string {
  return path.join(agentsDir(paths), node, 'agent.pid');
}

export function agentLogFile(paths: InstancePaths, node: string): string {
  return path.join(agentsDir(paths), node, 'agent.log');
}

/** The agents that have a directory in the instance (made when their machine was). */
export async function agentNodes(paths: InstancePaths): Promise<string[]> {
  return (await readdir(agentsDir(paths)).catch(() => [] as string[])).sort();
}

/** The agent's PID if the process recorded still runs (same PID, same start time). */
export async function runningAgent(paths: InstancePaths, node: string): Promise<number | null> {
  const [pid, ticks] = (await readFile(agentPidFile(paths, node), 'utf8').catch(() => '')).trim().split(' ').map(Number);
  if (!pid || !isRunning(pid) || procStartTicks(pid) !== ticks) return null;
  return pid;
}

async function stopAgent(paths: InstancePaths, node: string): Promise<void> {
  const pid = await runningAgent(paths, node);
  if (pid) {
    signalProcess(pid, 'SIGTERM');
    const deadline = Date.now() + AGENT_STOP_MS;
    while (isRunning(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (isRunning(pid)) signalProcess(pid, 'SIGKILL');
  }
  await rm(agentPidFile(paths, node), { force: true });
}

/** Ends the named agents' processes (`lab down`). */
export async function stopAgents(paths: InstancePaths, nodes: string[], log: (line: string) => void): Promise<void> {
  for (const n of nodes) {
    if (await runningAgent(paths, n)) log(`stopping agent ${n}`);
    await stopAgent(paths, n);
  }
}

export interface AgentMachinesOptions {
  paths: InstancePaths;
  /** The server's API as the agents reach it: https://<server node IP>:6443. */
  server: string;
  /** The server's node-token file. */
  tokenFile: string;
  log: (line: string) => void;
}

export class AgentMachines {
  private readonly restarts = new Map<string, NodeJS.Timeout>();
  private wanted = new Map<string, AgentConfig>();
  private stopped = false;

  constructor(private readonly opts: AgentMachinesOptions) {}

  /**
   * Brings the agents in line with the config: machines made, processes running; agents no
   * longer named are removed (client: to delete their Node objects).
   */
  async ensure(agents: AgentConfig[], client: Client, hostsLines: string[]): Promise<void> {
    const { paths } = this.opts;
    this.wanted = new Map(agents.map((a) => [a.nodeName, a]));
    for (const gone of (await agentNodes(paths)).filter((n) => !this.wanted.has(n))) await this.remove(gone, client);
    if (agents.length === 0) return;
    await ensureSandbox(paths, agents.map((a) => ({ netns: paths.agentNetns(a.nodeName), nodeIP: a.nodeIP })), { hostsLines });
    for (const a of agents) await this.start(a);
  }

  private async start(a: AgentConfig): Promise<void> {
    const { paths } = this.opts;
    if (this.stopped || (await runningAgent(paths, a.nodeName))) return;
    await mkdir(path.dirname(agentPidFile(paths, a.nodeName)), { recursive: true });
    const argv = [
      // nsenter, not `ip netns exec`: that also gives the process a mount namespace with a /sys of
      // the network namespace's own, where the cgroup file systems runc needs are not mounted.
      ...['nsenter', `--net=/run/netns/${paths.agentNetns(a.nodeName)}`, '--'],
      ...[process.execPath, path.join(LAB_ROOT, 'bin', 'lab.js'), 'agent', '--name', paths.instance, '--mode', 'sandbox'],
      ...['--server', this.opts.server, '--token-file', this.opts.tokenFile, '--node-name', a.nodeName, '--node-ip', a.nodeIP],
      ...a.nodeLabels.flatMap((l) => ['--node-label', l]),
      ...a.nodeTaints.flatMap((t) => ['--node-taint', t]),
    ];
    const pid = await spawnDetached(argv, {
      env: { ...process.env } as Record<string, string>,
      logFile: agentLogFile(paths, a.nodeName),
      onExit: (code, signal) => {
        if (this.stopped || !this.wanted.has(a.nodeName)) return;
        this.opts.log(`agent ${a.nodeName} exited (${signal ?? `exit code ${code}`}); starting it again in ${RESTART_MS / 1000} s (log ${agentLogFile(paths, a.nodeName)})`);
        this.restarts.set(a.nodeName, setTimeout(() => void this.start(this.wanted.get(a.nodeName) ?? a).catch((e: Error) => this.opts.log(`agent ${a.nodeName}: ${e.message}`)), RESTART_MS));
      },
    });
    if (!pid) throw new Error(`could not start the agent of node ${a.nodeName}`);
    await writeFile(agentPidFile(paths, a.nodeName), `${pid} ${procStartTicks(pid) ?? 0}\n`);
    this.opts.log(`agent ${a.nodeName} (${a.nodeIP}) starting in ${paths.agentNetns(a.nodeName)} (pid ${pid}, log ${agentLogFile(paths, a.nodeName)})`);
  }

  /** A node leaving the cluster: its agent, its Node, its pods, its machine. */
  private async remove(node: string, client: Client): Promise<void> {
    const { paths } = this.opts;
    this.opts.log(`agent ${node}: no longer in the config; removing the node`);
    clearTimeout(this.restarts.get(node));
    await stopAgent(paths, node);
    // As `kubectl drain --force --grace-period 0` before the VM goes: its pods are deleted now (their
    // ReplicaSets make new ones elsewhere), not left to the pod GC's 40 s quarantine.
    const bound = await client.list<KubeObject>({ group: '', resource: 'pods' }, { fieldSelector: `spec.nodeName=${node}` });
    for (const p of bound.items) {
      await client.delete({ group: '', resource: 'pods' }, p.metadata.namespace, p.metadata.name, { gracePeriodSeconds: 0 }).catch((e: unknown) => {
        if (!isNotFound(e)) throw e;
      });
    }
    await client.delete({ group: '', resource: 'nodes' }, undefined, node).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
    const root = agentPaths(paths.instance, node);
    await removePods({ paths: root }, await podsOf(root), { graceSeconds: 0 });
    await runtimeFor(root).removeAll();
    const netns = paths.agentNetns(node);
    if (netnsExists(netns)) await run(['ip', 'netns', 'delete', netns]);
    await rm(path.join(agentsDir(paths), node), { recursive: true, force: true });
    if (existsSync(path.join(agentsDir(paths), node))) throw new Error(`could not remove ${path.join(agentsDir(paths), node)}`);
  }

  /** The server stops: agents keep running (as VMs do when the server VM stops). */
  stop(): void {
    this.stopped = true;
    for (const t of this.restarts.values()) clearTimeout(t);
  }
}
