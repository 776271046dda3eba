// Files the lab rewrites on every reconcile (/etc/netns/<netns>/hosts, resolv.conf, hostname), and
// files replaced whole under a reader's feet (the DNS snapshot, nginx.conf).
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes `content` unless the file already holds it; returns whether it wrote. A write truncates
 * the file first, so a process reading it at that moment (a lookup in the laptop namespace while
 * the controller reconciles) would see it empty: unchanged files are left alone. The write is in
 * place, not a rename, on purpose: containers bind-mount these files at start, and a bind mount
 * follows the inode, so a renamed-over file would never reach them.
 */
export async function writeFileIfChanged(file: string, content: string): Promise<boolean> {
  if ((await readFile(file, 'utf8').catch(() => null)) === content) return false;
  await writeFile(file, content);
  return true;
}

export interface AtomicWriteOptions {
  /** Mode of the new file (before the umask). */
  mode?: number;
  /** Runs on the complete temporary file before the rename; false keeps the old file (`nginx -t`). */
  check?: (tmp: string) => Promise<boolean>;
}

let written = 0;

/**
 * Replaces `file` with one rename: a reader sees the old content or the new, never half a file,
 * and a crash leaves the old one. The temporary file is in the same directory (rename is atomic
 * only within a file system), named after the pid and a counter so that concurrent writers never
 * share one, and removed when anything fails. No fsync: this is about readers and crashes of the
 * controller, not power loss (the state lives in /run). Returns false when `check` refused.
 */
export async function writeFileAtomic(file: string, content: string, opts: AtomicWriteOptions = {}): Promise<boolean> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${++written}.tmp`);
  let renamed = false;
  try {
    await writeFile(tmp, content, opts.mode === undefined ? {} : { mode: opts.mode });
    if (opts.check && !(await opts.check(tmp))) return false;
    await rename(tmp, file);
    renamed = true;
    return true;
  } finally {
    if (!renamed) await unlink(tmp).catch(() => undefined);
  }
}
