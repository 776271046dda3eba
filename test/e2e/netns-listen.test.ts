// src/sys/netns-listen.ts: a socket bound inside a namespace, served by this process.
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipBatch, run } from '../../src/sys/exec.ts';
import { listenInNetns } from '../../src/sys/netns-listen.ts';

const NS = `pplt-nsl-${process.pid}`;

describe('listenInNetns', () => {
  beforeAll(async () => {
    await ipBatch(null, [['netns', 'add', NS]]);
    await ipBatch(NS, [['link', 'set', 'lo', 'up'], ['addr', 'add', '10.99.0.1/32', 'dev', 'lo']]);
  });
  afterAll(async () => {
    await run(['ip', 'netns', 'del', NS], { allowFail: true });
  });

  it('serves, from this process, a socket bound to an address only that namespace has', async () => {
    const handle = await listenInNetns(NS, '10.99.0.1', 6443);
    const server = createServer((req, res) => res.end(`served by pid ${process.pid}\n`));
    await new Promise<void>((r) => server.listen(handle, r));
    try {
      const r = await run(['ip', 'netns', 'exec', NS, 'curl', '-s', '--max-time', '5', 'http://10.99.0.1:6443/']);
      expect(r.stdout).toBe(`served by pid ${process.pid}\n`);
      // a second bind of the same port fails with the kernel's error
      await expect(listenInNetns(NS, '10.99.0.1', 6443)).rejects.toThrow(/cannot listen on 10\.99\.0\.1:6443 in network namespace .*EADDRINUSE/);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('names the address when it is not in the namespace, and refuses bad names before running anything', async () => {
    await expect(listenInNetns(NS, '10.99.0.2', 6443)).rejects.toThrow(/EADDRNOTAVAIL/);
    expect(() => listenInNetns('../etc', '10.99.0.1', 1)).toThrow(/invalid network namespace name/);
    expect(() => listenInNetns(NS, 'example.com', 1)).toThrow(/must be an IP address/);
  });
});
