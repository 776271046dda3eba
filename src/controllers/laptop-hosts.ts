// The sandbox's laptop resolves Ingress hosts to the node, as a learner adds `192.168.56.110
// app1.com app2.com` to their laptop's /etc/hosts. In the server process this follows the
// Ingress objects in the API: an Ingress applied with kubectl is reachable from the laptop by its
// host name as soon as it exists. (Host mode: the real laptop's /etc/hosts is the learner's.)
import { ValidationError } from '../api/errors.ts';
import { isDns1123Subdomain } from '../api/names.ts';
import { key, type ClusterConfig, type DesiredState } from '../api/types.ts';
import type { InformerFactory } from '../client/controller.ts';
import type { KubeObject } from '../client/types.ts';
import type { InstancePaths } from '../node/instance.ts';
import { writeLaptopHosts } from '../node/setup.ts';

/** Annotation on an Ingress naming extra hosts the laptop maps to the node (e.g. app3.com). */
export const LAPTOP_HOSTS_ANNOTATION = 'lab/laptop-hosts';

type IngressObject = KubeObject & { spec?: { rules?: { host?: string }[] } };

/**
 * The laptop's hosts line: every exact Ingress host, plus the names an Ingress lists in its
 * `lab/laptop-hosts` annotation (a host served only by the default backend has no rule). Names
 * that are not host names are left out and reported.
 */
export function laptopHosts(ingresses: IngressObject[], nodeIP: string): { lines: string[]; invalid: string[] } {
  const hosts = new Set<string>();
  const invalid: string[] = [];
  for (const ing of ingresses) {
    for (const r of ing.spec?.rules ?? []) if (r.host && !r.host.startsWith('*')) hosts.add(r.host);
    for (const h of (ing.metadata.annotations?.[LAPTOP_HOSTS_ANNOTATION] ?? '').split(/[\s,]+/).filter(Boolean)) {
      if (isDns1123Subdomain(h)) hosts.add(h);
      else invalid.push(`Ingress ${ing.metadata.namespace}/${ing.metadata.name}: ${LAPTOP_HOSTS_ANNOTATION}: ${JSON.stringify(h)} is not a valid host name`);
    }
  }
  return { lines: hosts.size ? [`${nodeIP}\t${[...hosts].sort().join(' ')}`] : [], invalid };
}

/** The same from the state files, refusing an invalid name with the file and line that give it. */
export function laptopHostsLines(desired: DesiredState, config: ClusterConfig): string[] {
  for (const ing of desired.ingresses) {
    const { invalid } = laptopHosts([ing as unknown as IngressObject], config.nodeIP);
    if (invalid.length) throw new ValidationError([{ file: ing.source.file, line: ing.source.line, object: `Ingress ${key(ing.metadata)}`, field: `metadata.annotations.${LAPTOP_HOSTS_ANNOTATION}`, message: invalid[0]!.replace(/^.*: /, '') }]);
  }
  return laptopHosts(desired.ingresses as unknown as IngressObject[], config.nodeIP).lines;
}

/** Rewrites the laptop's hosts file whenever the Ingresses change. */
export class LaptopHosts {
  private last = '';
  private writing: Promise<void> = Promise.resolve();

  constructor(
    factory: InformerFactory,
    private readonly paths: InstancePaths,
    private readonly nodeIP: string,
    private readonly log: (line: string) => void = () => {},
  ) {
    const ingresses = factory.informer<IngressObject>({ group: 'networking.k8s.io', resource: 'ingresses' });
    const changed = () => {
      const { lines, invalid } = laptopHosts(ingresses.list(), this.nodeIP);
      const text = lines.join('\n');
      if (text === this.last) return;
      this.last = text;
      for (const i of invalid) this.log(`laptop hosts: ${i}`);
      this.writing = this.writing.then(() => writeLaptopHosts(this.paths, lines)).catch((e: unknown) => this.log(`laptop hosts: ${(e as Error).message}`));
    };
    ingresses.addHandlers({ add: changed, update: changed, delete: changed });
  }

  stop(): Promise<void> {
    return this.writing;
  }
}
