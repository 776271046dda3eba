// src/sys/netns-dial.ts: connections made inside a namespace, used by this process.
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipBatch, run } from '../../src/sys/exec.ts';
import { listenInNetns } from '../../src/sys/netns-listen.ts';
import { NetnsDialer } from '../../src/sys/netns-dial.ts';

const NS = `pplt-nsd-${process.pid}`;

describe('NetnsDialer', () => {
  const dialer = new NetnsDialer(NS);
  beforeAll(async () => {
    await ipBatch(null, [['netns', 'add', NS]]);
    await ipBatch(NS, [['link', 'set', 'lo', 'up'], ['addr', 'add', '10.99.0.1/32', 'dev', 'lo']]);
  });
  afterAll(async () => {
    dialer.close();
    await run(['ip', 'netns', 'del', NS], { allowFail: true });
  });

  it("connects to an address only that namespace has; the socket is this process's", async () => {
    const server = createServer((s) => s.end(`hello ${s.remoteAddress}\n`));
    const handle = await listenInNetns(NS, '10.99.0.1', 7000);
    await new Promise<void>((r) => server.listen(handle, r));
    try {
      for (let i = 0; i < 3; i++) {
        const s = await dialer.dial('10.99.0.1', 7000, 5000);
        const got = await new Promise<string>((resolve) => {
          let text = '';
          s.on('data', (d: Buffer) => (text += d.toString()));
          s.on('end', () => resolve(text));
        });
        // The server inside the namespace answered, and saw the namespace's own address.
        expect(got).toBe('hello 10.99.0.1\n');
      }
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it("names the kernel's error, and refuses bad input before anything runs", async () => {
    await expect(dialer.dial('10.99.0.1', 7001, 5000)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(dialer.dial('10.98.0.1', 7000, 5000)).rejects.toMatchObject({ code: 'ENETUNREACH' });
    expect(() => new NetnsDialer('../etc')).toThrow(/invalid network namespace name/);
    expect(() => dialer.dial('example.com', 1, 1000)).toThrow(/must be an IP address/);
  });
});
