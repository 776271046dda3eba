// kubectl-style output: tables with -o wide, and Kubernetes-shaped JSON/YAML lists.
import { age } from '../api/age.ts';
import { isTerminating, type Endpoints, type Pod, type Service } from '../api/types.ts';
import { serviceChainName } from '../proxy/names.ts';

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export function podStatusText(p: Pod): string {
  if (isTerminating(p)) return 'Terminating';
  const waiting = p.status.containerStatuses.find((c) => c.state.waiting)?.state.waiting?.reason;
  return waiting ?? p.status.phase;
}

export function podsTable(pods: Pod[], opts: { wide: boolean; allNamespaces: boolean; now?: number }): string {
  const header = [...(opts.allNamespaces ? ['NAMESPACE'] : []), 'NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', ...(opts.wide ? ['IP', 'NODE', 'VETH', 'NETNS'] : [])];
  const rows = pods.map((p) => {
    const cs = p.status.containerStatuses;
    return [
      ...(opts.allNamespaces ? [p.metadata.namespace] : []),
      p.metadata.name,
      `${cs.filter((c) => c.ready).length}/${p.spec.containers.length}`,
      podStatusText(p),
      String(cs.reduce((n, c) => n + c.restartCount, 0)),
      age(p.metadata.creationTimestamp, opts.now),
      ...(opts.wide ? [p.status.podIP ?? '<none>', p.spec.nodeName ?? '<none>', p.metadata.annotations['lab/veth'] ?? '<none>', p.metadata.annotations['lab/netns'] ?? '<none>'] : []),
    ];
  });
  return table(header, rows);
}

export async function asList(items: unknown[], format: 'json' | 'yaml'): Promise<string> {
  const list = { apiVersion: 'v1', kind: 'List', items, metadata: { resourceVersion: '' } };
  // The YAML library is loaded only for -o yaml: a third of what `lab get pods` would parse.
  return format === 'json' ? JSON.stringify(list, null, 4) + '\n' : (await import('yaml')).stringify(list);
}

function portsText(s: Service): string {
  return s.spec.ports.map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol}`).join(',') || '<none>';
}

/** kubectl get svc; -o wide adds the selector and, per port, the KUBE-SVC chain kube-proxy uses. */
export function servicesTable(svcs: Service[], opts: { wide: boolean; allNamespaces: boolean; nodeIP: string }): string {
  const header = [...(opts.allNamespaces ? ['NAMESPACE'] : []), 'NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE', ...(opts.wide ? ['SELECTOR', 'CHAINS'] : [])];
  const rows = svcs.map((s) => {
    const external = s.spec.type === 'LoadBalancer' ? [opts.nodeIP, ...s.spec.externalIPs].join(',') : s.spec.type === 'ExternalName' ? (s.spec.externalName ?? '') : s.spec.externalIPs.join(',') || '<none>';
    const chains = s.spec.clusterIP && s.spec.clusterIP !== 'None' ? s.spec.ports.map((p) => serviceChainName(s.metadata.namespace, s.metadata.name, p.name, p.protocol)).join(',') : '<none>';
    return [
      ...(opts.allNamespaces ? [s.metadata.namespace] : []),
      s.metadata.name,
      s.spec.type,
      s.spec.clusterIP ?? '<none>',
      external,
      portsText(s),
      age(s.metadata.creationTimestamp),
      ...(opts.wide ? [Object.entries(s.spec.selector ?? {}).map(([k, v]) => `${k}=${v}`).join(',') || '<none>', chains] : []),
    ];
  });
  return table(header, rows);
}

export function endpointsTable(eps: Endpoints[], opts: { allNamespaces: boolean }): string {
  const header = [...(opts.allNamespaces ? ['NAMESPACE'] : []), 'NAME', 'ENDPOINTS', 'AGE'];
  const rows = eps.map((e) => {
    const list = e.subsets.flatMap((s) => s.addresses.flatMap((a) => s.ports.map((p) => `${a.ip}:${p.port}`)));
    return [...(opts.allNamespaces ? [e.metadata.namespace] : []), e.metadata.name, list.join(',') || '<none>', age(e.metadata.creationTimestamp)];
  });
  return table(header, rows);
}
