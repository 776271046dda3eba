// Which Debian packages the machine has installed, read from dpkg's own database (no process):
// the lab's images are built from installed packages and say which version they came from.
import { readFileSync, statSync } from 'node:fs';

export const DPKG_STATUS = '/var/lib/dpkg/status';

let cache: { key: string; versions: Map<string, string> } | undefined;

/** Package -> version of every installed package in a dpkg status file's text. Pure. */
export function parseDpkgStatus(text: string): Map<string, string> {
  const versions = new Map<string, string>();
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(stanza)?.[1]?.trim();
    const pkg = field('Package');
    const version = field('Version');
    // "install ok installed"; a removed package keeps a stanza ("deinstall ok config-files").
    if (pkg && version && field('Status')?.endsWith(' installed')) versions.set(pkg, version);
  }
  return versions;
}

/**
 * The installed version of a Debian package (e.g. `1:1.35.0-4+deb12u1+b1`), or undefined when it
 * is not installed or the machine has no dpkg. The file (about 1 MB) is read again only when it
 * changed, so an `apt-get install` while the lab runs is seen.
 */
export function debianPackageVersion(pkg: string, statusFile = DPKG_STATUS): string | undefined {
  let key: string;
  try {
    const st = statSync(statusFile);
    key = `${statusFile}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return undefined;
  }
  if (cache?.key !== key) cache = { key, versions: parseDpkgStatus(readFileSync(statusFile, 'utf8')) };
  return cache.versions.get(pkg);
}

/** The upstream part of a Debian version: `1:1.35.0-4+deb12u1+b1` -> `1.35.0`. */
export function upstreamVersion(debianVersion: string): string {
  return debianVersion.replace(/^\d+:/, '').replace(/-[^-]*$/, '');
}
