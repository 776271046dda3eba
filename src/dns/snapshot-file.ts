// The snapshot file between the controller (writer) and the DNS pod (reader): our stand-in for
// CoreDNS's watch on the API server.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../sys/files.ts';
import { SerialQueue } from '../util/serial-queue.ts';
import { formatDnsSnapshot, parseDnsSnapshot, type DnsSnapshot } from './records.ts';

/**
 * Writes the snapshot atomically (temp file + rename in the same directory), so the reader never
 * sees half a file. Returns true when the content changed.
 */
export async function writeDnsSnapshotFile(file: string, snapshot: DnsSnapshot): Promise<boolean> {
  const text = formatDnsSnapshot(snapshot);
  const old = await fs.promises.readFile(file, 'utf8').catch(() => undefined);
  if (old === text) return false;
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, text, { mode: 0o644 });
  return true;
}

export interface SnapshotWatcherOptions {
  /** Stat poll period; catches what fs.watch misses (renames, editors, some file systems). */
  pollMs?: number;
  log?: (line: string) => void;
  /** Called after each successful (re)load. */
  onLoad?: (snapshot: DnsSnapshot) => void;
}

/**
 * Keeps the newest valid snapshot of a file. Watches the directory (a watch on the file itself
 * dies when the file is replaced by rename) and polls stat every 250 ms as a fallback. A missing
 * or malformed file keeps the last good snapshot and is logged once per distinct problem.
 */
export class SnapshotWatcher {
  private current: DnsSnapshot | null = null;
  private lastStat = '';
  private lastProblem = '';
  private watcher: fs.FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly loads = new SerialQueue();
  /** The load queued behind the running one, which every check asked for meanwhile shares. */
  private next: Promise<void> | undefined;
  private forceNext = false;
  private readonly log: (line: string) => void;

  constructor(
    readonly file: string,
    private readonly opts: SnapshotWatcherOptions = {},
  ) {
    this.log = opts.log ?? ((line) => console.log(line));
  }

  get snapshot(): DnsSnapshot | null {
    return this.current;
  }

  async start(): Promise<void> {
    await this.check(true);
    try {
      const base = path.basename(this.file);
      this.watcher = fs.watch(path.dirname(this.file), { persistent: false }, (_event, name) => {
        if (name === null || name === base) void this.check(false);
      });
      this.watcher.on('error', () => this.stopWatch());
    } catch {
      // Directory missing or watches exhausted: the poll alone still follows changes.
    }
    this.timer = setInterval(() => void this.check(false), this.opts.pollMs ?? 250);
    this.timer.unref();
  }

  stop(): void {
    this.stopWatch();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Forces a re-read now (also used by tests). */
  async reload(): Promise<void> {
    await this.check(true);
  }

  private stopWatch(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  // One load at a time; checks requested while one runs make one more load afterwards.
  private check(force: boolean): Promise<void> {
    this.forceNext ||= force;
    this.next ??= this.loads.run(() => {
      this.next = undefined;
      const forced = this.forceNext;
      this.forceNext = false;
      return this.load(forced);
    });
    return this.next;
  }

  private async load(force: boolean): Promise<void> {
    let stat: fs.BigIntStats;
    try {
      stat = await fs.promises.stat(this.file, { bigint: true });
    } catch (err) {
      this.problem(`dns: snapshot ${this.file} unreadable (${(err as NodeJS.ErrnoException).code ?? err}); keeping ${this.describe()}`);
      this.lastStat = '';
      return;
    }
    const sig = `${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`;
    if (!force && sig === this.lastStat) return;
    this.lastStat = sig;
    let snapshot: DnsSnapshot;
    try {
      snapshot = parseDnsSnapshot(await fs.promises.readFile(this.file, 'utf8'));
    } catch (err) {
      this.problem(`dns: ignoring snapshot ${this.file}: ${(err as Error).message.split('\n')[0]}; keeping ${this.describe()}`);
      return;
    }
    const changed = JSON.stringify(snapshot) !== JSON.stringify(this.current);
    this.current = snapshot;
    this.lastProblem = '';
    if (changed) {
      this.log(`dns: loaded snapshot generation ${snapshot.generation} (${snapshot.records.length} records, zone ${snapshot.clusterDomain})`);
      this.opts.onLoad?.(snapshot);
    }
  }

  private describe(): string {
    return this.current ? `generation ${this.current.generation}` : 'no snapshot (answering SERVFAIL)';
  }

  private problem(line: string): void {
    if (line === this.lastProblem) return;
    this.lastProblem = line;
    this.log(line);
  }
}
