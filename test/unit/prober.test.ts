// The kubelet's probe workers with a long period: periodSeconds of 30 days is valid Kubernetes and
// must mean one probe, then a 30-day wait (Node's timers would fire after 1 ms instead).
import { describe, expect, it } from 'vitest';
import type { Pod, Probe } from '../../src/api/types.ts';
import { ProbeWorker, type ProberAgent, type ProbeHandlers } from '../../src/kubelet/prober.ts';

const container = { name: 'web', image: 'busybox', ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }] } as unknown as Pod['spec']['containers'][number];
const pod = { metadata: { name: 'web-abc-12345', namespace: 'default', labels: {}, annotations: {} }, spec: { containers: [container] } } as unknown as Pod;

function probe(over: Partial<Probe>): Probe {
  return { httpGet: { path: '/', port: 80 }, initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3, ...over } as Probe;
}

const handlers: ProbeHandlers = { ready() {}, started() {}, killContainer() {}, unhealthy() {} };

/** A prober agent that answers every probe at once and counts them. */
function countingAgent(ok: boolean) {
  const calls: { timeoutMs: number }[] = [];
  const agent = {
    probe: (req: { timeoutMs: number }) => {
      calls.push(req);
      return Promise.resolve({ id: calls.length, ok, message: ok ? 'HTTP probe returned status code 200' : 'refused' });
    },
  } as unknown as ProberAgent;
  return { agent, calls };
}

async function runFor(kind: 'liveness' | 'readiness', p: Probe, ok: boolean, ms: number) {
  const { agent, calls } = countingAgent(ok);
  const w = new ProbeWorker(agent, kind, p, { pod, container, pid: 4242, podIP: '10.42.0.9' }, handlers);
  const cpu0 = process.cpuUsage();
  void w.run();
  await new Promise((r) => setTimeout(r, ms));
  const cpu = process.cpuUsage(cpu0);
  w.stop();
  return { calls, cpuMs: (cpu.user + cpu.system) / 1000 };
}

describe('probe workers with periods beyond what one Node timer holds', () => {
  it('a liveness probe with periodSeconds: 2592000 (30 days) probes once in a second, and the CPU stays idle', async () => {
    const { calls, cpuMs } = await runFor('liveness', probe({ periodSeconds: 2_592_000 }), true, 1000);
    expect(calls).toHaveLength(1);
    expect(cpuMs).toBeLessThan(200);
  });

  it('a ready readiness probe with a 30-day period probes once', async () => {
    const { calls } = await runFor('readiness', probe({ periodSeconds: 2_592_000 }), true, 1000);
    expect(calls).toHaveLength(1);
  });

  it('initialDelaySeconds of 30 days: no probe yet', async () => {
    const { calls } = await runFor('liveness', probe({ initialDelaySeconds: 2_592_000 }), true, 500);
    expect(calls).toHaveLength(0);
  });

  it('timeoutSeconds of 30 days reaches the agent as the longest timeout Node can hold', async () => {
    const { calls } = await runFor('liveness', probe({ timeoutSeconds: 2_592_000, periodSeconds: 2_592_000 }), true, 200);
    expect(calls.map((c) => c.timeoutMs)).toEqual([2 ** 31 - 1]);
  });

  it('ordinary periods are unchanged: 1 s apart', async () => {
    const { calls } = await runFor('liveness', probe({ periodSeconds: 1 }), true, 1500);
    expect(calls).toHaveLength(2);
  });
});
