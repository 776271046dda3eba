// The lab's own programs that run as processes of their own: the cluster DNS server (the
// coredns pod's container) and the prober agent (inside the node). Each is bundled once with
// esbuild into a plain ES module under build/, which the machine's node starts in about 0.1 s;
// through the tsx loader a start took about 0.5 s and left an esbuild service process in the pod.
// Packages stay external (node resolves them from node_modules/ at run time). A bundle is rebuilt
// when any of its source files changed since it was built (content hashes, checked per call).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const LAB_ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** Programs with their entry points (relative to `root`), bundled into `buildDir`. */
export interface ProgramSet {
  root: string;
  buildDir: string;
  programs: Record<string, string>;
}

export const LAB_PROGRAMS = {
  root: LAB_ROOT,
  buildDir: path.join(LAB_ROOT, 'build'),
  programs: { coredns: 'src/dns/main.ts', 'prober-agent': 'src/kubelet/prober-agent.ts' },
} satisfies ProgramSet;

/** Where a program's bundle lives (what a manifest or spawn refers to). */
export function programPath(name: string, set: ProgramSet = LAB_PROGRAMS): string {
  return path.join(set.buildDir, `${name}.mjs`);
}

interface BuildRecord {
  entry: string;
  /** Source file (relative to the checkout) -> sha256 of its content when built. */
  inputs: Record<string, string>;
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

export async function upToDate(name: string, set: ProgramSet = LAB_PROGRAMS): Promise<boolean> {
  const record = await readFile(path.join(set.buildDir, `${name}.inputs.json`), 'utf8').then((t) => JSON.parse(t) as BuildRecord, () => null);
  if (!record || record.entry !== set.programs[name] || !existsSync(programPath(name, set))) return false;
  for (const [file, hash] of Object.entries(record.inputs)) {
    const content = await readFile(path.join(set.root, file)).catch(() => null);
    if (!content || sha256(content) !== hash) return false;
  }
  return true;
}

async function build(name: string, set: ProgramSet): Promise<void> {
  const esbuild = await import('esbuild');
  const entry = set.programs[name];
  if (!entry) throw new Error(`unknown program ${name}`);
  const out = programPath(name, set);
  const tmp = `${out}.${process.pid}.tmp`;
  await mkdir(set.buildDir, { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: set.root,
    entryPoints: [entry],
    outfile: tmp,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    metafile: true,
    logLevel: 'silent',
    banner: { js: `// Generated from ${entry} by src/kubelet/programs.ts; do not edit.` },
  });
  const inputs: Record<string, string> = {};
  for (const file of Object.keys(result.metafile.inputs)) inputs[file] = sha256(await readFile(path.join(set.root, file)));
  // Written under temporary names and renamed: a concurrent start sees the old or the new bundle.
  const recordTmp = path.join(set.buildDir, `${name}.inputs.json.${process.pid}.tmp`);
  await writeFile(recordTmp, JSON.stringify({ entry, inputs } satisfies BuildRecord, null, 2));
  await rename(tmp, out);
  await rename(recordTmp, path.join(set.buildDir, `${name}.inputs.json`));
}

const inflight = new Map<string, Promise<string>>();

/** The program's bundle, built or rebuilt first if needed. Returns its path. */
export function ensureProgram(name: string, set: ProgramSet = LAB_PROGRAMS): Promise<string> {
  const key = programPath(name, set);
  let p = inflight.get(key);
  if (!p) {
    p = (async () => {
      if (!(await upToDate(name, set))) await build(name, set);
      return key;
    })().finally(() => inflight.delete(key));
    inflight.set(key, p);
  }
  return p;
}

/** Every program (the controller calls this before starting pods). */
export async function ensurePrograms(set: ProgramSet = LAB_PROGRAMS): Promise<void> {
  await Promise.all(Object.keys(set.programs).map((name) => ensureProgram(name, set)));
}
