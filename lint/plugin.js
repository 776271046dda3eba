// `lab/*` lint rules: the layering of src/ (lint/layers.js) and the rule that only src/sys spawns
// processes, sends signals or reads /proc.
import path from 'node:path';
import { LAYERS, layerOrder, OUTSIDE_SRC, PROCESS_MODULES } from './layers.js';

layerOrder(); // throws on a cycle: the lint refuses to run with a cyclic architecture

/** For /abs/repo/src/<folder>/..., the folder and the repo root; null outside src/. */
function srcFolder(file) {
  const parts = file.split(path.sep);
  const i = parts.lastIndexOf('src');
  if (i < 0 || i + 2 >= parts.length) return null;
  return { folder: parts[i + 1], root: parts.slice(0, i).join(path.sep) || path.sep };
}

function importSources(context, check) {
  const literal = (node, source) => source && source.type === 'Literal' && typeof source.value === 'string' && check(node, source.value);
  return {
    ImportDeclaration: (node) => literal(node, node.source),
    ExportNamedDeclaration: (node) => literal(node, node.source),
    ExportAllDeclaration: (node) => literal(node, node.source),
    ImportExpression: (node) => literal(node, node.source),
  };
}

const layers = {
  meta: {
    type: 'problem',
    docs: { description: 'a folder of src/ imports only the folders lint/layers.js allows it; process modules only in src/sys' },
    schema: [],
    messages: {
      layer: "src/{{from}} may not import src/{{to}} (allowed: {{allowed}}); see lint/layers.js and docs/architecture.md",
      unknown: 'src/{{folder}} is not in lint/layers.js: add it with the folders it may import',
      outside: "src/ may not import {{target}} (only {{allowed}})",
      process: "only src/sys starts processes: use src/sys/exec.ts (or another src/sys module) instead of importing '{{module}}'",
    },
  },
  create(context) {
    const here = srcFolder(context.filename);
    if (!here) return {};
    if (!(here.folder in LAYERS)) {
      return { Program: (node) => context.report({ node, messageId: 'unknown', data: { folder: here.folder } }) };
    }
    const allowed = LAYERS[here.folder];
    return importSources(context, (node, spec) => {
      if (PROCESS_MODULES.includes(spec) && here.folder !== 'sys') {
        context.report({ node, messageId: 'process', data: { module: spec } });
        return;
      }
      if (!spec.startsWith('.')) return;
      const target = path.resolve(path.dirname(context.filename), spec);
      const rel = path.relative(here.root, target).split(path.sep).join('/');
      if (!rel.startsWith('src/')) {
        if (!OUTSIDE_SRC.includes(rel)) context.report({ node, messageId: 'outside', data: { target: rel, allowed: OUTSIDE_SRC.join(', ') } });
        return;
      }
      const to = rel.split('/')[1];
      if (to === here.folder || allowed.includes(to)) return;
      context.report({ node, messageId: 'layer', data: { from: here.folder, to, allowed: allowed.join(', ') || 'none' } });
    });
  },
};

function outsideSys(context) {
  const here = srcFolder(context.filename);
  return here !== null && here.folder !== 'sys';
}

const noSignals = {
  meta: {
    type: 'problem',
    docs: { description: 'only src/sys sends signals' },
    schema: [],
    messages: { signal: 'only src/sys sends signals: use a function of src/sys (e.g. src/sys/proc.ts) instead of {{call}}' },
  },
  create(context) {
    if (!outsideSys(context)) return {};
    return {
      CallExpression(node) {
        const c = node.callee;
        if (c.type !== 'MemberExpression' || c.computed || c.property.type !== 'Identifier' || c.property.name !== 'kill') return;
        const who = c.object.type === 'Identifier' ? c.object.name : '…';
        context.report({ node, messageId: 'signal', data: { call: `${who}.kill()` } });
      },
    };
  },
};

const noProc = {
  meta: {
    type: 'problem',
    docs: { description: 'only src/sys reads /proc' },
    schema: [],
    messages: { proc: 'only src/sys reads /proc: add a function to src/sys/proc.ts instead of naming {{path}} here' },
  },
  create(context) {
    if (!outsideSys(context)) return {};
    const isProc = (s) => s === '/proc' || s.startsWith('/proc/');
    return {
      Literal(node) {
        if (typeof node.value === 'string' && isProc(node.value)) context.report({ node, messageId: 'proc', data: { path: node.value } });
      },
      TemplateLiteral(node) {
        const head = node.quasis[0]?.value.cooked ?? '';
        if (isProc(head) || (head === '' && node.expressions.length > 0 && node.quasis[1]?.value.cooked?.startsWith('/proc'))) {
          context.report({ node, messageId: 'proc', data: { path: `\`${head}...\`` } });
        }
      },
    };
  },
};

export default { meta: { name: 'lab' }, rules: { layers, 'no-signals': noSignals, 'no-proc': noProc } };
