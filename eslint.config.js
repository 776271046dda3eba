// `npm run lint`: typescript-eslint's recommended rules, and the architecture of
// ../shared/DESIGN.md as import boundaries (lint/layers.js, lint/plugin.js).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import lab from './lint/plugin.js';

export default tseslint.config(
  { ignores: ['build/', 'dist/', 'node_modules/', 'test/fixtures/', '.scratch-*', '.vagrant/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // `lab ui`'s page runs in the browser.
    files: ['src/ui/page/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { lab },
    rules: { 'lab/layers': 'error', 'lab/no-signals': 'error', 'lab/no-proc': 'error' },
  },
);
