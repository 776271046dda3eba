// The architecture of ../shared/DESIGN.md as data, checked by the `lab/*` lint rules
// (lint/plugin.js). Each folder of src/ may import only the folders listed for it. The graph is
// acyclic (checked when the plugin loads), so no two folders can ever import each other.
export const LAYERS = {
  // Pure helpers (CIDR arithmetic, a serial queue): no other folder of src/.
  util: [],
  // The only place that spawns processes, sends signals or reads /proc.
  sys: ['util'],
  // Object types, validation, the store, manifests.
  api: ['util', 'sys'],
  // How roles talk to the API server: informers (list + watch), work queues, clients.
  client: ['api', 'util'],
  // Host vs sandbox node plumbing.
  node: ['api', 'util', 'sys'],
  // flannel: the node's VXLAN device, its neighbours/FDB/routes to other nodes, subnet.env.
  flannel: ['api', 'client', 'node', 'util', 'sys'],
  // Pod network attachment (bridge, host-local IPAM), configured from flannel's subnet.env.
  cni: ['api', 'flannel', 'node', 'util', 'sys'],
  scheduler: ['api', 'client', 'util'],
  // kube-proxy.
  proxy: ['api', 'client', 'node', 'util', 'sys'],
  dns: ['api', 'client', 'util', 'sys'],
  ingress: ['api', 'client', 'util', 'sys'],
  kubelet: ['api', 'client', 'cni', 'flannel', 'node', 'util', 'sys'],
  // controller-manager: drives the roles below it.
  controllers: ['api', 'client', 'cni', 'dns', 'flannel', 'ingress', 'kubelet', 'node', 'proxy', 'scheduler', 'util', 'sys'],
  // The learner's tools read what the roles made; they never drive a role.
  trace: ['api', 'client', 'cni', 'dns', 'flannel', 'ingress', 'kubelet', 'node', 'proxy', 'util', 'sys'],
  // `lab ui`'s picture of the cluster (pure) and the page that draws it (runs in the browser).
  ui: ['api', 'trace', 'util'],
  // The command line sits on top of everything.
  cli: ['api', 'client', 'cni', 'controllers', 'dns', 'flannel', 'ingress', 'kubelet', 'node', 'proxy', 'scheduler', 'trace', 'ui', 'util', 'sys'],
};

/** Files outside src/ that src/ may import (the bundler finds the checkout and builds programs). */
export const OUTSIDE_SRC = ['bin/bundles.mjs'];

/** Modules that start processes: only src/sys may import them. */
export const PROCESS_MODULES = ['child_process', 'node:child_process', 'execa', 'zx', 'cross-spawn'];

/** The folders in an order where each imports only earlier ones, or the cycle that prevents it. */
export function layerOrder(layers = LAYERS) {
  const order = [];
  const state = new Map();
  const visit = (name, trail) => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new Error(`folder cycle: ${[...trail, name].join(' -> ')}`);
    if (!(name in layers)) throw new Error(`folder ${name} (imported by ${trail.at(-1)}) is not in LAYERS`);
    state.set(name, 'visiting');
    for (const dep of layers[name]) visit(dep, [...trail, name]);
    state.set(name, 'done');
    order.push(name);
  };
  for (const name of Object.keys(layers)) visit(name, []);
  return order;
}
