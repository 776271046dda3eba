#!/usr/bin/env node
// Entry point of `npm run bench`. The sources are TypeScript run through tsx, like bin/lab.js.
import { register } from 'tsx/esm/api';

register();
await import('../bench/main.ts');
