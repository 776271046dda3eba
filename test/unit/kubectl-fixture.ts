// One API server on 127.0.0.1 for a test file, with a kubeconfig and a kubectl cache of its own
// under a temporary directory: started before the file's tests, closed and removed after them
// (even when they fail), KUBECACHEDIR restored.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startApiServer, type RunningApiServer } from '../../src/api/server/index.ts';
import { run, type RunResult } from '../../src/sys/exec.ts';

export interface KubectlFixture {
  /** The temporary directory (manifests may be written here). */
  readonly tmp: string;
  readonly cacheDir: string;
  /** Set once beforeAll ran. */
  api: RunningApiServer;
  kubeconfig: string;
  /** Real kubectl against this server; never throws on a non-zero exit. */
  kubectl(...args: string[]): Promise<RunResult>;
}

export function useApiServer(name: string, opts: { before?: (api: RunningApiServer) => void | Promise<void>; after?: () => void | Promise<void> } = {}): KubectlFixture {
  const tmp = mkdtempSync(path.join(tmpdir(), `lab-api-${name}-`));
  const cacheDir = path.join(tmp, 'kube-cache');
  const savedCacheEnv = process.env.KUBECACHEDIR;
  const fixture: KubectlFixture = {
    tmp,
    cacheDir,
    api: undefined as unknown as RunningApiServer,
    kubeconfig: path.join(tmp, 'kubeconfig.yaml'),
    kubectl: (...args) => run(['kubectl', '--kubeconfig', fixture.kubeconfig, '--cache-dir', cacheDir, ...args], { allowFail: true, timeoutMs: 60_000 }),
  };
  beforeAll(async () => {
    process.env.KUBECACHEDIR = cacheDir;
    fixture.api = await startApiServer({ storeFile: path.join(tmp, 'server', 'db', 'state.db'), pkiDir: path.join(tmp, 'server') });
    writeFileSync(fixture.kubeconfig, fixture.api.kubeconfig(), { mode: 0o600 });
    await opts.before?.(fixture.api);
  });
  afterAll(async () => {
    await opts.after?.();
    await fixture.api?.close();
    rmSync(tmp, { recursive: true, force: true });
    if (savedCacheEnv === undefined) delete process.env.KUBECACHEDIR;
    else process.env.KUBECACHEDIR = savedCacheEnv;
  });
  return fixture;
}
