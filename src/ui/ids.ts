// The picture's element ids (src/ui/model.ts makes them; the page's modules find elements by
// them). A module of its own with no imports: the browser bundle takes these without the model's
// Node-side readers (kube-proxy's nftables names hash with node:crypto).
export const podId = (ns: string, name: string) => `pod/${ns}/${name}`;
export const svcId = (ns: string, name: string) => `svc/${ns}/${name}`;
export const chainId = (chain: string) => `chain/${chain}`;
export const nodeId = (name: string) => `node/${name}`;
export const ifaceId = (node: string, ifname: string) => `if/${node}/${ifname}`;
export const ingressId = (ns: string, name: string) => `ing/${ns}/${name}`;
export const LAPTOP_ID = 'laptop';
