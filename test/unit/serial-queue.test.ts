import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SerialQueue } from '../../src/util/serial-queue.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SerialQueue', () => {
  it('runs tasks one at a time, in the order given', async () => {
    const q = new SerialQueue();
    const log: string[] = [];
    let running = 0;
    const task = (name: string, ms: number) => async () => {
      expect(++running).toBe(1);
      log.push(`start ${name}`);
      await sleep(ms);
      log.push(`end ${name}`);
      running--;
      return name;
    };
    const results = await Promise.all([q.run(task('a', 20)), q.run(task('b', 1)), q.run(task('c', 5))]);
    expect(results).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it("a failure rejects that task's promise only; the next task runs", async () => {
    const q = new SerialQueue();
    const a = q.run(async () => {
      throw new Error('a failed');
    });
    const b = q.run(() => {
      throw new Error('b threw synchronously');
    });
    const c = q.run(async () => 'c ran');
    await expect(a).rejects.toThrow('a failed');
    await expect(b).rejects.toThrow('b threw synchronously');
    await expect(c).resolves.toBe('c ran');
  });

  it('a task may queue another without waiting for it: it runs afterwards', async () => {
    const q = new SerialQueue();
    const log: string[] = [];
    let inner: Promise<void> | undefined;
    await q.run(async () => {
      inner = q.run(async () => void log.push('inner'));
      await sleep(5);
      log.push('outer');
    });
    await inner;
    expect(log).toEqual(['outer', 'inner']);
  });

  it('idle() waits for everything queued so far, failures included; size counts queued and running tasks', async () => {
    const q = new SerialQueue();
    expect(q.size).toBe(0);
    let done = 0;
    q.run(async () => {
      await sleep(10);
      done++;
    });
    q.run(async () => {
      done++;
      throw new Error('ignored here');
    }).catch(() => undefined);
    expect(q.size).toBe(2);
    await q.idle();
    expect(done).toBe(2);
    expect(q.size).toBe(0);
  });

  it('never swallows an error: a failure nobody handles is an unhandled rejection', () => {
    const script = `
      import { SerialQueue } from ${JSON.stringify(new URL('../../src/util/serial-queue.ts', import.meta.url).pathname)};
      process.on('unhandledRejection', (e) => console.log('unhandled: ' + e.message));
      const q = new SerialQueue();
      void q.run(async () => { throw new Error('lost handler'); });
      q.run(async () => 'next').then((v) => console.log('then: ' + v));
    `;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(out.split('\n').filter(Boolean).sort()).toEqual(['then: next', 'unhandled: lost handler']);
  });
});
