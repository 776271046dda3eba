// Issue 12, item 8: timers clamp to what Node can schedule. A liveness probe with periodSeconds of
// 30 days (valid Kubernetes) is probed once and then waits; before, the 2^31-1 ms timer limit made
// it fire every millisecond (about 400 probes a second, 60% of a CPU in the controller). An exec
// probe counts its runs in a file inside the container.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { useWatchedLab } from './controller.ts';
import { getPods, instanceName, isRoot, lab } from './helpers.ts';

const I = instanceName('e2elp');

const SLEEPY = `
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: sleepy
spec:
  replicas: 1
  selector:
    matchLabels:
      app: sleepy
  template:
    metadata:
      labels:
        app: sleepy
    spec:
      containers:
        - name: sleepy
          image: busybox
          command: ["httpd", "-f", "-v", "-p", "80", "-h", "/usr/share/html"]
          ports:
            - name: http
              containerPort: 80
          volumeMounts:
            - name: html
              mountPath: /usr/share/html
          livenessProbe:
            exec:
              command: ["sh", "-c", "echo probed >> /tmp/probes"]
            periodSeconds: 2592000
      volumes:
        - name: html
          configMap:
            name: app1-html
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU time (user + system) of a process so far, in seconds. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

describe.skipIf(!isRoot)('a probe period longer than a Node timer holds', () => {
  const w = useWatchedLab('longprobe', I, SLEEPY);

  it('periodSeconds: 2592000 probes once in 3 s, and the controller stays idle', async () => {
    const pod = (await getPods(I)).find((p) => p.metadata.labels.app === 'sleepy')!;
    // Each probe appends a line inside the container.
    const probes = async () => Number((await lab(['exec', pod.metadata.name, '--name', I, '--', 'sh', '-c', 'cat /tmp/probes 2>/dev/null | wc -l'])).stdout.trim());
    for (const end = Date.now() + 10_000; (await probes()) === 0; await sleep(100)) {
      if (Date.now() > end) throw new Error(`no probe ran:\n${w.controller.log()}`);
    }
    const pid = w.controller.child.pid!;
    const cpu0 = cpuSeconds(pid);
    await sleep(3000);
    const cpu = cpuSeconds(pid) - cpu0;
    expect(await probes()).toBe(1);
    expect(cpu, `controller CPU over 3 s: ${cpu}s`).toBeLessThan(0.6);
    const again = (await getPods(I)).find((p) => p.metadata.name === pod.metadata.name)!;
    expect(again.status.containerStatuses[0]!.restartCount).toBe(0);
    expect(w.controller.log()).not.toMatch(/TimeoutOverflowWarning/);
  });
});
