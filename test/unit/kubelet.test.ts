// The kubelet's search for container processes a killed controller left behind while starting.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { containersStartingUnder } from '../../src/kubelet/kubelet.ts';
import { CONTAINER_INIT } from '../../src/kubelet/runtime.ts';

describe('containersStartingUnder', () => {
  it('finds a container still in its init script by its arguments, and only under the given directory', async () => {
    const dir = `/tmp/pplt-kubelet-test-${process.pid}/pods`;
    const rootfs = `${dir}/web-abc12/containers/web/rootfs`;
    // Stands in for `sh container-init.sh <rootfs> …`: same arguments, sleeping instead of mounting.
    const starting = spawn('sh', ['-c', 'sleep 30', CONTAINER_INIT, rootfs, 'lower', 'upper'], { stdio: 'ignore' });
    const unrelated = spawn('sh', ['-c', 'sleep 30', 'not-the-init-script', rootfs], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 100));
      expect(containersStartingUnder(dir)).toEqual([starting.pid]);
      expect(containersStartingUnder(`${dir}/web-abc12/containers/web`)).toEqual([starting.pid]);
      expect(containersStartingUnder(`/tmp/pplt-kubelet-test-${process.pid}/other`)).toEqual([]);
    } finally {
      starting.kill('SIGKILL');
      unrelated.kill('SIGKILL');
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(containersStartingUnder(dir)).toEqual([]);
  });
});
