// The lab's bundles: the `lab` CLI and the programs the lab runs as processes of their own (the
// cluster DNS server in the coredns pod, the prober agent in the node). Each is TypeScript bundled
// by esbuild into plain ES modules under build/, which node starts in a fraction of the time a
// TypeScript loader needs (`lab --version` ~1 s through tsx).
//
// `npm ci` builds them (the `prepare` script runs this file). Whoever starts a bundle first asks
// ensureBundle(), which rebuilds it when any of its source files changed since it was built, so a
// developer never runs a stale bundle and a user never runs a build step by hand. The check is a
// stat() per input file against the build record (size + mtime), with a content hash only when
// those differ: about a millisecond for the CLI's ~100 inputs.
//
// Plain JavaScript on purpose: bin/lab.js runs it before any TypeScript can be loaded.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The checkout: the nearest folder above this file with a package.json (this file may itself be
 * bundled into build/cli/chunks/ as part of the CLI). */
function findRoot(/** @type {string} */ dir) {
  for (let d = dir; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, 'package.json'))) return d;
    if (d === path.dirname(d)) throw new Error(`no package.json above ${dir}`);
  }
}

export const LAB_ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));

// ESM output that still lets bundled CommonJS packages (dns-packet, ...) call require().
const REQUIRE_SHIM = "import { createRequire as __labCreateRequire } from 'node:module'; const require = __labCreateRequire(import.meta.url);";

/**
 * name -> how to build it. `outfile` is what a caller runs (relative to the root). The CLI is split
 * into chunks so that each subcommand loads only its own modules; the programs are single files
 * because a pod's container is given exactly that file.
 */
export const BUNDLES = {
  cli: { entry: 'src/cli/main.ts', outfile: 'build/cli/main.mjs', splitting: true },
  coredns: { entry: 'src/dns/main.ts', outfile: 'build/coredns.mjs', splitting: false },
  'prober-agent': { entry: 'src/kubelet/prober-agent.ts', outfile: 'build/prober-agent.mjs', splitting: false },
  // `lab ui`'s page: one script for the browser, every library in it (the page needs no internet).
  ui: { entry: 'src/ui/page/main.ts', outfile: 'build/ui/app.mjs', splitting: false, platform: 'browser' },
};

/** @param {string} name @param {string} root */
const recordPath = (name, root) => path.join(root, 'build', `${name}.inputs.json`);
const sha256 = (/** @type {Buffer|string} */ data) => createHash('sha256').update(data).digest('hex');

/**
 * Whether the bundle exists and no input changed since it was built. Synchronous, so that the
 * launcher pays no promise round trips for it.
 * @param {string} name
 * @param {{ root?: string, bundles?: Record<string, {entry: string, outfile: string, splitting: boolean, platform?: string}> }} [opts]
 */
export function isFresh(name, opts = {}) {
  const root = opts.root ?? LAB_ROOT;
  const spec = (opts.bundles ?? BUNDLES)[name];
  if (!spec) throw new Error(`unknown bundle ${name}`);
  let record;
  try {
    record = JSON.parse(readFileSync(recordPath(name, root), 'utf8'));
  } catch {
    return false;
  }
  if (record.entry !== spec.entry || record.outfile !== spec.outfile || !existsSync(path.join(root, spec.outfile))) return false;
  for (const [file, seen] of Object.entries(record.inputs)) {
    const abs = path.join(root, file);
    let st;
    try {
      st = statSync(abs);
    } catch {
      return false;
    }
    if (st.size === seen.size && st.mtimeMs === seen.mtimeMs) continue;
    // Touched (a checkout, an editor's save without change): the content decides.
    if (sha256(readFileSync(abs)) !== seen.sha256) return false;
  }
  return true;
}

/**
 * Builds one bundle. Chunks are content-named and written before the entry file, which is renamed
 * into place last: a process that already runs the old entry can still load its old chunks, and a
 * concurrent start sees either the old or the new build, never half of one.
 * @param {string} name
 * @param {{ root?: string, bundles?: Record<string, {entry: string, outfile: string, splitting: boolean, platform?: string}> }} [opts]
 */
export async function buildBundle(name, opts = {}) {
  const root = opts.root ?? LAB_ROOT;
  const spec = (opts.bundles ?? BUNDLES)[name];
  if (!spec) throw new Error(`unknown bundle ${name}`);
  const esbuild = await import('esbuild');
  const browser = spec.platform === 'browser';
  const outfile = path.join(root, spec.outfile);
  const outdir = path.dirname(outfile);
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: { [path.basename(spec.outfile, '.mjs')]: spec.entry },
    outdir,
    outExtension: { '.js': '.mjs' },
    entryNames: '[name]',
    chunkNames: 'chunks/[name]-[hash]',
    splitting: spec.splitting,
    bundle: true,
    // Packages are bundled too (resolving them from node_modules at each start costs more than
    // the rest of the start). Packages with a native addon stay external: esbuild ships a binary,
    // better-sqlite3 (the kine store) finds its .node file relative to its own files.
    external: browser ? [] : ['esbuild', 'better-sqlite3'],
    platform: browser ? 'browser' : 'node',
    format: 'esm',
    target: browser ? 'chrome110' : 'node20',
    minify: browser,
    metafile: true,
    write: false,
    logLevel: 'silent',
    banner: { js: `// Generated from ${spec.entry} by bin/bundles.mjs; do not edit.\n${browser ? '' : REQUIRE_SHIM}` },
  });
  await mkdir(spec.splitting ? path.join(outdir, 'chunks') : outdir, { recursive: true });
  const tmp = (/** @type {string} */ f) => `${f}.${process.pid}.tmp`;
  let entryText = null;
  for (const file of result.outputFiles) {
    if (file.path === outfile) entryText = file.contents;
    else if (!existsSync(file.path)) {
      await writeFile(tmp(file.path), file.contents);
      await rename(tmp(file.path), file.path);
    }
  }
  if (!entryText) throw new Error(`esbuild wrote no ${spec.outfile}`);
  /** @type {Record<string, {size: number, mtimeMs: number, sha256: string}>} */
  const inputs = {};
  for (const file of Object.keys(result.metafile.inputs)) {
    // Packages change with package-lock.json, recorded below instead of each of their files.
    if (file.startsWith('node_modules/')) continue;
    const abs = path.join(root, file);
    const st = await stat(abs);
    inputs[file] = { size: st.size, mtimeMs: st.mtimeMs, sha256: sha256(readFileSync(abs)) };
  }
  for (const file of ['package-lock.json']) {
    const abs = path.join(root, file);
    const st = await stat(abs).catch(() => null);
    if (st) inputs[file] = { size: st.size, mtimeMs: st.mtimeMs, sha256: sha256(readFileSync(abs)) };
  }
  await writeFile(tmp(outfile), entryText);
  await rename(tmp(outfile), outfile);
  const record = recordPath(name, root);
  await writeFile(tmp(record), JSON.stringify({ entry: spec.entry, outfile: spec.outfile, inputs }, null, 1));
  await rename(tmp(record), record);
  if (spec.splitting) await pruneChunks(path.join(outdir, 'chunks'), result.outputFiles.map((f) => f.path));
}

// Chunks of older builds are kept for a day (a long-running `lab up --watch` may still load one
// lazily), then removed.
async function pruneChunks(/** @type {string} */ dir, /** @type {string[]} */ current) {
  const keep = new Set(current);
  for (const f of await readdir(dir)) {
    const abs = path.join(dir, f);
    if (keep.has(abs)) continue;
    const st = await stat(abs).catch(() => null);
    if (st && Date.now() - st.mtimeMs > 24 * 3600_000) await rm(abs, { force: true });
  }
}

/** @type {Map<string, Promise<string>>} */
const inflight = new Map();

/**
 * The bundle's entry file, built or rebuilt first if needed.
 * @param {string} name
 * @param {{ root?: string, bundles?: Record<string, {entry: string, outfile: string, splitting: boolean, platform?: string}> }} [opts]
 * @returns {Promise<string>}
 */
export function ensureBundle(name, opts = {}) {
  const root = opts.root ?? LAB_ROOT;
  const spec = (opts.bundles ?? BUNDLES)[name];
  if (!spec) return Promise.reject(new Error(`unknown bundle ${name}`));
  const out = path.join(root, spec.outfile);
  let p = inflight.get(out);
  if (!p) {
    p = (async () => {
      if (!isFresh(name, opts)) await buildBundle(name, opts);
      return out;
    })().finally(() => inflight.delete(out));
    inflight.set(out, p);
  }
  return p;
}

/** Every bundle (npm's `prepare`, and the controller before it starts pods). */
export async function ensureBundles(opts = {}) {
  await Promise.all(Object.keys(opts.bundles ?? BUNDLES).map((name) => ensureBundle(name, opts)));
}

// `node bin/bundles.mjs` (npm ci's prepare, `npm run build`): build whatever is stale.
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const t0 = Date.now();
  await ensureBundles();
  process.stderr.write(`bundles up to date in build/ (${Date.now() - t0} ms)\n`);
}
