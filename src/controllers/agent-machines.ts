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
import { ipBatch, run } from '../sys/exec.ts';
import { NODE_UPLINK } from '../node/node.ts';
import { spawnDetached } from '../sys/stream.ts';
import { podsOf } from './node-pods.ts';

/** How long an agent has after SIGTERM before SIGKILL. */
const AGENT_STOP_MS = 5_000;
/** How often the server looks for agents to start again (systemd's RestartSec for k3s-agent: 5 s). */
const SUPERVISE_MS = 2_000;

/**
 * `lab node stop` leaves this file in the agent's directory: the machine is off (its agent killed,
 * eth1 down) and the server does not start it again until `lab node start` removes it.
 */
export function stoppedMarker(paths: InstancePaths, node: string): string {
  return path.join(agentsDir(paths), node, 'stopped');
}

/**
 * `lab node stop`: the machine fails as a VM that loses power or network would: its agent is
 * killed (no goodbye to the API: the node lifecycle controller finds out from the Lease), its eth1
 * goes down. The pods' processes keep running, cut off, as on a partitioned VM.
 */
export async function stopMachine(paths: InstancePaths, node: string): Promise<void> {
  if (!existsSync(path.join(agentsDir(paths), node))) throw new Error(`no agent node ${node} in instance ${paths.instance} (lab get nodes lists them; the server's own node cannot be stopped: lab down)`);
  await writeFile(stoppedMarker(paths, node), `${new Date().toISOString()}\n`);
  const pid = await runningAgent(paths, node);
  if (pid) signalProcess(pid, 'SIGKILL');
  if (netnsExists(paths.agentNetns(node))) await ipBatch(paths.agentNetns(node), [['link', 'set', NODE_UPLINK, 'down']]);
}

/** `lab node start`: eth1 up again; the server starts the agent, which takes its pods up again. */
export async function startMachine(paths: InstancePaths, node: string): Promise<void> {
  if (!existsSync(path.join(agentsDir(paths), node))) throw new Error(`no agent node ${node} in instance ${paths.instance}`);
  if (netnsExists(paths.agentNetns(node))) await ipBatch(paths.agentNetns(node), [['link', 'set', NODE_UPLINK, 'up']]);
  await rm(stoppedMarker(paths, node), { force: true });
}

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
  private wanted = new Map<string, AgentConfig>();
  private stopped = false;
  private readonly timer: NodeJS.Timeout;
  private supervising: Promise<void> = Promise.resolve();

  constructor(private readonly opts: AgentMachinesOptions) {
    // As systemd's Restart=always: an agent that exited (or was killed) is started again, unless
    // its machine is stopped (`lab node stop`).
    this.timer = setInterval(() => {
      this.supervising = this.supervising.then(() => this.supervise()).catch((e: Error) => this.opts.log(`agents: ${e.message}`));
    }, SUPERVISE_MS);
    this.timer.unref();
  }

  private async supervise(): Promise<void> {
    for (const a of this.wanted.values()) await this.start(a, true);
  }

  /**
   * Brings the agents in line with the config: machines made, processes running; agents no
   * longer named are removed (client: to delete their Node objects).
   */
  ensure(agents: AgentConfig[], client: Client, hostsLines: string[]): Promise<void> {
    // One at a time with the supervision: two starts of one agent must never race.
    const run = this.supervising.then(() => this.ensureNow(agents, client, hostsLines));
    this.supervising = run.catch(() => {});
    return run;
  }

  private async ensureNow(agents: AgentConfig[], client: Client, hostsLines: string[]): Promise<void> {
    const { paths } = this.opts;
    this.wanted = new Map(agents.map((a) => [a.nodeName, a]));
    for (const gone of (await agentNodes(paths)).filter((n) => !this.wanted.has(n))) await this.remove(gone, client);
    if (agents.length === 0) return;
    await ensureSandbox(paths, agents.map((a) => ({ netns: paths.agentNetns(a.nodeName), nodeIP: a.nodeIP })), { hostsLines });
    for (const a of agents) await this.start(a);
  }

  private async start(a: AgentConfig, again = false): Promise<void> {
    const { paths } = this.opts;
    if (this.stopped || existsSync(stoppedMarker(paths, a.nodeName)) || (await runningAgent(paths, a.nodeName))) return;
    if (again) this.opts.log(`agent ${a.nodeName} is not running; starting it again (log ${agentLogFile(paths, a.nodeName)})`);
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
        if (!this.stopped && this.wanted.has(a.nodeName)) this.opts.log(`agent ${a.nodeName} exited (${signal ?? `exit code ${code}`})`);
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
    await runtimeFor(root).removeAll({ cgroups: false });
    const netns = paths.agentNetns(node);
    if (netnsExists(netns)) await run(['ip', 'netns', 'delete', netns]);
    await rm(path.join(agentsDir(paths), node), { recursive: true, force: true });
    if (existsSync(path.join(agentsDir(paths), node))) throw new Error(`could not remove ${path.join(agentsDir(paths), node)}`);
  }

  /** The server stops: agents keep running (as VMs do when the server VM stops). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }
}
