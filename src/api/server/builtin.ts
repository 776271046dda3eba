// The paths kube-apiserver answers itself, before any resource: /version and the health checks
// /healthz, /livez, /readyz (each also with /ping, and ?verbose listing the checks). Responses as
// kube-apiserver writes them: the version as indented JSON (responsewriters.WriteRawJSON), the
// checks as text/plain "ok".

import { goArch } from '../../sys/host.ts';

export interface VersionInfo {
  major: string;
  minor: string;
  gitVersion: string;
  gitCommit: string;
  gitTreeState: string;
  buildDate: string;
  goVersion: string;
  compiler: string;
  platform: string;
}


/**
 * The lab's version: the Kubernetes API it serves (1.32, the kubectl it is tested with) with a
 * `+lab` build suffix, where k3s writes `+k3s1`. It is no Go program: goVersion and compiler say node.
 */
export function labVersion(): VersionInfo {
  return {
    major: '1',
    minor: '32',
    gitVersion: 'v1.32.0+lab',
    gitCommit: '',
    gitTreeState: '',
    buildDate: '',
    goVersion: `node${process.versions.node}`,
    compiler: 'node',
    platform: `${process.platform}/${goArch()}`,
  };
}

export interface BuiltinResponse {
  status: number;
  contentType: string;
  body: string;
}

const TEXT = 'text/plain; charset=utf-8';
const CHECKS = ['ping'];

/** The response for a built-in path, or undefined when the path is not one. */
export function builtin(method: string, path: string, query: URLSearchParams, version: VersionInfo): BuiltinResponse | undefined {
  if (path === '/version' && method === 'GET') return { status: 200, contentType: 'application/json', body: JSON.stringify(version, null, 2) };
  const m = /^\/(healthz|livez|readyz)(?:\/([a-z0-9-]+))?$/.exec(path);
  if (!m) return undefined;
  const [, kind, check] = m as unknown as [string, string, string | undefined];
  if (check !== undefined) return CHECKS.includes(check) ? { status: 200, contentType: TEXT, body: 'ok' } : undefined;
  if (!query.has('verbose')) return { status: 200, contentType: TEXT, body: 'ok' };
  return { status: 200, contentType: TEXT, body: `${CHECKS.map((c) => `[+]${c} ok\n`).join('')}${kind} check passed\n` };
}
