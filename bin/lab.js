#!/usr/bin/env node
// Entry point of the `lab` command. The sources are TypeScript run through tsx, so a fresh
// checkout works after `npm ci` without a build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
