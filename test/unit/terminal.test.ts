// src/sys/terminal.ts and its relay (src/sys/ptyrelay.py): a command on a pty of the relay's own,
// and on a pty whose master arrives over a console socket from a command that then exits, leaving
// the process it started to the relay (what `runc exec --detach --console-socket` does; a Python
// stand-in plays runc here, the e2e test server.test.ts runs the real one under kubectl exec -it).
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sizeLine, spawnOnConsole, spawnOnNewPty, type TerminalChild } from '../../src/sys/terminal.ts';

const work = mkdtempSync(path.join(os.tmpdir(), 'pplt-terminal-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function collect(child: TerminalChild): () => string {
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return () => out;
}

async function waitFor(output: () => string, re: RegExp, timeoutMs = 5000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = re.exec(output());
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; got ${JSON.stringify(output())}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * runc exec --detach --tty --console-socket, played by Python: a pty, the process on its slave
 * (its own session, the slave its controlling terminal), the master sent over the socket
 * (SCM_RIGHTS), the process's pid in the pid file, then exit 0 without waiting for it.
 */
const FAKE_RUNC = `
import os, socket, sys, fcntl, termios
sock_path, pid_file, script = sys.argv[1:4]
master, slave = os.openpty()
pid = os.fork()
if pid == 0:
    os.close(master)
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.execvp("sh", ["sh", "-c", script])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock_path)
socket.send_fds(s, [b"/dev/pts/x"], [master])
with open(pid_file, "w") as f:
    f.write(str(pid))
`;

const fakeRunc = path.join(work, 'fake-runc.py');
writeFileSync(fakeRunc, FAKE_RUNC);

/** Prints the terminal's size for each line read, until the line `end`: then exit 6. */
const SIZES_UNTIL_END = 'while read line; do [ "$line" = end ] && exit 6; stty size; done';

/** Resizes, then asks until `stty size` shows it (the size and the next line travel apart). */
async function sizeSeen(child: TerminalChild, out: () => string, cols: number, rows: number): Promise<void> {
  child.resize(cols, rows);
  for (let i = 0; ; i++) {
    const mark = out().length;
    child.stdin.write('x\r');
    const [, size] = await waitFor(() => out().slice(mark), /x\r\n(\d+ \d+)\r\n/);
    if (size === `${rows} ${cols}`) return;
    if (i === 50) throw new Error(`stty size stays ${size}, not ${rows} ${cols}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('sizeLine', () => {
  it('is "COLS ROWS" for a struct winsize, nothing for sizes it cannot hold', () => {
    expect(sizeLine(80, 24)).toBe('80 24\n');
    for (const [c, r] of [[0, 24], [80, -1], [65536, 24], [80.5, 24], [NaN, 24]] as const) expect(sizeLine(c, r)).toBeUndefined();
  });
});

describe('a command on a new pty', () => {
  it('has a terminal of the given size, follows resizes, and its exit code comes back', async () => {
    const child = spawnOnNewPty(['sh', '-c', `tty; stty size; ${SIZES_UNTIL_END}`], { cols: 90, rows: 30 });
    const out = collect(child);
    await waitFor(out, /^\/dev\/pts\/\d+\r\n30 90\r\n/);
    await sizeSeen(child, out, 120, 40);
    child.stdin.write('end\r');
    expect((await child.exited).code).toBe(6);
  });

  it('stopping it hangs the terminal up: SIGHUP to the command', async () => {
    const child = spawnOnNewPty(['sh', '-c', 'echo ready; sleep 30'], { cols: 80, rows: 24 });
    const out = collect(child);
    await waitFor(out, /ready/);
    const started = Date.now();
    child.stop();
    expect((await child.exited).code).toBe(128 + os.constants.signals.SIGHUP);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('a command on a console socket', () => {
  let n = 0;
  const files = () => {
    const dir = path.join(work, `c${n++}`);
    mkdirSync(dir, { mode: 0o700 });
    return { socket: path.join(dir, 'console.sock'), pidFile: path.join(dir, 'pid') };
  };
  const start = (script: string) => {
    const f = files();
    const child = spawnOnConsole(['python3', '-I', fakeRunc, f.socket, f.pidFile, script], f, { waitSizeMs: 2000 });
    return { child, out: collect(child), f };
  };

  it('relays the master it receives, applies sizes, and exits with the status of the process left to it', async () => {
    const { child, out, f } = start(SIZES_UNTIL_END);
    // Sent before the master arrives: applied when it does (the relay reads its stdin only then).
    child.resize(100, 50);
    child.stdin.write('x\r');
    await waitFor(out, /x\r\n50 100\r\n/);
    // The socket is gone once the master has arrived.
    expect(existsSync(f.socket)).toBe(false);
    await sizeSeen(child, out, 81, 25);
    child.stdin.write('end\r');
    expect((await child.exited).code).toBe(6);
  });

  it('a process that ignores the hangup is killed a second later', async () => {
    const { child, out } = start('trap "" HUP; echo ready; sleep 30');
    child.resize(80, 24);
    await waitFor(out, /ready/);
    child.stop();
    expect((await child.exited).code).toBe(128 + os.constants.signals.SIGKILL);
  });

  it('exits with the command\'s status when it never connects, and removes the socket', async () => {
    const f = files();
    const child = spawnOnConsole(['sh', '-c', 'echo "no container" >&2; exit 7'], f);
    const out = collect(child);
    expect((await child.exited).code).toBe(7);
    expect(out()).toBe('no container\n');
    expect(existsSync(f.socket)).toBe(false);
  });
});
