#!/usr/bin/env node
// Entry point of the `lab` command: runs the CLI's bundle (build/cli/main.mjs), rebuilding it
// first when a source file changed since it was built (bin/bundles.mjs). `npm ci` builds it.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BUNDLES, ensureBundle, isFresh, LAB_ROOT } from './bundles.mjs';

const entry = path.join(LAB_ROOT, BUNDLES.cli.outfile);
if (isFresh('cli')) {
  await import(pathToFileURL(entry).href);
} else if (writable(path.join(LAB_ROOT, 'build'))) {
  await import(pathToFileURL(await ensureBundle('cli')).href);
} else {
  // build/ belongs to another user (made by `sudo npm run lab`): run the sources through tsx.
  process.stderr.write(`note: ${path.join(LAB_ROOT, 'build')} is stale and not writable by you; running from the sources (slower). \`sudo npm run build\` refreshes it.\n`);
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}

function writable(dir) {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch (e) {
    // No build/ yet: it will be made in the checkout, if that is writable.
    return e.code === 'ENOENT' && writable(path.dirname(dir));
  }
}
