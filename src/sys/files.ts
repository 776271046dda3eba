// Files the lab rewrites on every reconcile (/etc/netns/<netns>/hosts, resolv.conf, hostname).
import { readFile, writeFile } from 'node:fs/promises';

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
