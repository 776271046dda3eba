// The kubelet's probe workers: one per (container, probe kind), running while the container
// runs. httpGet/tcpSocket probes go through the prober agent inside the node; exec probes run
// the command inside the container (`runc exec`, as the CRI's ExecSync).
import readline from 'node:readline';
import type { Container, Pod, Probe } from '../api/types.ts';
import { run, type Netns } from '../sys/exec.ts';
import { spawnPiped, type PipedChild } from '../sys/stream.ts';
import type { ProbeRequest, ProbeResult } from './prober-agent.ts';
import { ensureProgram } from './programs.ts';
import { clampDelay, sleep } from '../util/timers.ts';

export type ProbeKind = 'readiness' | 'liveness' | 'startup';

/** The long-lived agent process in the node's namespace. */
export class ProberAgent {
  private child: PipedChild | null = null;
  private starting: Promise<PipedChild> | null = null;
  private stopped = false;
  private nextId = 1;
  private waiting = new Map<number, (r: ProbeResult) => void>();

  constructor(private readonly netns: Netns) {}

  private async ensure(): Promise<PipedChild> {
    if (this.child?.running) return this.child;
    this.starting ??= ensureProgram('prober-agent')
      .then((agent) => this.start(agent))
      .finally(() => (this.starting = null));
    return this.starting;
  }

  private start(agent: string): PipedChild {
    if (this.stopped) throw new Error('prober agent stopped');
    const child = spawnPiped([process.execPath, agent], {
      netns: this.netns,
      onExit: () => {
        for (const [id, done] of this.waiting) done({ id, ok: false, message: 'prober agent exited' });
        this.waiting.clear();
      },
    });
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const r = JSON.parse(line) as ProbeResult;
      this.waiting.get(r.id)?.(r);
      this.waiting.delete(r.id);
    });
    this.child = child;
    return child;
  }

  async probe(req: Omit<ProbeRequest, 'id'>): Promise<ProbeResult> {
    const id = this.nextId++;
    let child: PipedChild;
    try {
      child = await this.ensure();
    } catch (e) {
      return { id, ok: false, message: (e as Error).message };
    }
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      child.stdin.write(`${JSON.stringify({ ...req, id })}\n`);
    });
  }

  stop(): void {
    this.stopped = true;
    this.child?.stdin.end();
    this.child?.stop();
    this.child = null;
  }
}

/** A named port ("http") becomes the container's number for it. */
export function resolveProbePort(c: Container, port: number | string): number | undefined {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  return c.ports.find((p) => p.name === port)?.containerPort;
}

export interface ProbeTarget {
  pod: Pod;
  container: Container;
  pid: number;
  podIP: string;
  /** The argv prefix that runs a command inside the container (runtime execArgv). */
  exec?: string[];
}

export async function runProbe(agent: ProberAgent, probe: Probe, t: ProbeTarget): Promise<ProbeResult> {
  const timeoutMs = clampDelay(probe.timeoutSeconds * 1000);
  if (probe.exec) {
    if (!t.exec) return { id: 0, ok: false, message: 'the container has no runtime ID to exec in' };
    const r = await run([...t.exec, ...probe.exec.command], { allowFail: true, timeoutMs });
    return { id: 0, ok: r.exitCode === 0, message: r.exitCode === 0 ? 'ok' : `command ${JSON.stringify(probe.exec.command.join(' '))} exited with ${r.exitCode}: ${(r.stdout + r.stderr).trim().slice(0, 200)}` };
  }
  const spec = probe.httpGet ?? probe.tcpSocket;
  const port = spec ? resolveProbePort(t.container, spec.port) : undefined;
  if (!spec || port === undefined) return { id: 0, ok: false, message: `port ${JSON.stringify(spec?.port)} not found in container ${t.container.name}` };
  return agent.probe({ kind: probe.httpGet ? 'http' : 'tcp', host: t.podIP, port, path: probe.httpGet?.path ?? '/', timeoutMs });
}

export interface ProbeHandlers {
  /** Readiness changed (after success/failure thresholds). */
  ready(pod: string, container: string, pid: number, ready: boolean): void;
  /** The startup probe succeeded: readiness and liveness probing begins. */
  started(pod: string, container: string, pid: number): void;
  /** Liveness or startup failed failureThreshold times: the kubelet kills the container. */
  killContainer(pod: string, container: string, pid: number, reason: string): void;
  /** A failed probe, for events ("Unhealthy"). */
  unhealthy(pod: string, container: string, kind: ProbeKind, message: string): void;
}

/**
 * One worker per probe. Lab deviation, for a snappy classroom: until the first readiness success
 * the worker retries every 100 ms (the kubelet waits a whole periodSeconds after a failure), so a
 * new pod joins its Service as soon as it answers. After that, periodSeconds as configured.
 */
export class ProbeWorker {
  private stopped = false;
  private successes = 0;
  private failures = 0;
  private ready = false;
  /** Ends the sleep between probes when the worker stops (a period may be days long). */
  private readonly abort = new AbortController();

  constructor(
    private readonly agent: ProberAgent,
    readonly kind: ProbeKind,
    private readonly probe: Probe,
    private readonly target: ProbeTarget,
    private readonly on: ProbeHandlers,
    /** Ready already (a container the kubelet adopted after a restart, ready in the API): failures count from the first probe. */
    initiallyReady = false,
  ) {
    this.ready = initiallyReady;
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
  }

  /** Unref'd: a stopped controller does not wait for the next probe period to exit. */
  private sleep(ms: number): Promise<void> {
    return sleep(ms, { unref: true, signal: this.abort.signal });
  }

  async run(): Promise<void> {
    const { pod, container, pid } = this.target;
    const name = pod.metadata.name;
    await this.sleep(this.probe.initialDelaySeconds * 1000);
    if (this.stopped) return;
    const startedAt = Date.now();
    while (!this.stopped) {
      const r = await runProbe(this.agent, this.probe, this.target);
      if (this.stopped) return;
      if (r.ok) {
        this.failures = 0;
        this.successes++;
        if (this.kind === 'startup') return this.on.started(name, container.name, pid);
        if (this.kind === 'readiness' && !this.ready && this.successes >= this.probe.successThreshold) {
          this.ready = true;
          this.on.ready(name, container.name, pid, true);
        }
      } else {
        this.successes = 0;
        this.failures++;
        const warmingUp = this.kind === 'readiness' && !this.ready && Date.now() - startedAt < this.probe.periodSeconds * 1000;
        if (!warmingUp) this.on.unhealthy(name, container.name, this.kind, r.message);
        if (this.failures >= this.probe.failureThreshold) {
          if (this.kind === 'readiness' && this.ready) {
            this.ready = false;
            this.on.ready(name, container.name, pid, false);
          } else if (this.kind !== 'readiness') {
            return this.on.killContainer(name, container.name, pid, `${this.kind === 'liveness' ? 'Liveness' : 'Startup'} probe failed: ${r.message}`);
          }
        }
      }
      const firstReadiness = this.kind === 'readiness' && !this.ready && Date.now() - startedAt < this.probe.periodSeconds * 1000;
      await this.sleep(firstReadiness ? 100 : this.probe.periodSeconds * 1000);
    }
  }
}
