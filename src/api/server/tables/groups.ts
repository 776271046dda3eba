// Printers of networking.k8s.io/v1 Ingress and IngressClass, discovery.k8s.io/v1 EndpointSlice and
// coordination.k8s.io/v1 Lease, as kube-apiserver's (printers.go, v1.32).
import { AGE_COLUMN, ageOf, arr, column, int, listWithMore, loadBalancerAddresses, NAME_COLUMN, rec, str, type Printer } from './columns.ts';

const S = 'string';

/**
 * formatHosts: the rules' hosts, up to 3, then "+ N more..." where N counts every rule past the
 * third (host-less rules are not shown but counted); `*` when no rule names a host.
 */
export function formatHosts(rules: unknown): string {
  const all = arr(rules);
  const list: string[] = [];
  let more = false;
  for (const rule of all) {
    if (list.length === 3) more = true;
    if (!more && str(rule.host)) list.push(str(rule.host));
  }
  if (!list.length) return '*';
  return more ? `${list.join(',')} + ${all.length - 3} more...` : list.join(',');
}

export const ingressPrinter: Printer = {
  columns: [
    NAME_COLUMN,
    column('Class', S, 'The name of the IngressClass resource that should be used for additional configuration'),
    column('Hosts', S, 'Hosts that incoming requests are matched against before the ingress rule'),
    column('Address', S, 'Address is a list containing ingress points for the load-balancer'),
    column('Ports', S, 'Ports of TLS configurations that open'),
    AGE_COLUMN,
  ],
  print(ing, now) {
    const spec = rec(ing.spec);
    const className = typeof spec.ingressClassName === 'string' ? spec.ingressClassName : '<none>';
    const ports = arr(spec.tls).length ? '80, 443' : '80';
    return { cells: [ing.metadata.name ?? '', className, formatHosts(spec.rules), loadBalancerAddresses(rec(ing.status).loadBalancer), ports, ageOf(ing, now)] };
  },
};

export const ingressClassPrinter: Printer = {
  columns: [
    NAME_COLUMN,
    column('Controller', S, 'Controller that is responsible for handling this class'),
    column('Parameters', S, 'A reference to a resource with additional parameters'),
    AGE_COLUMN,
  ],
  print(ic, now) {
    const spec = rec(ic.spec);
    let parameters = '<none>';
    if (spec.parameters) {
      const p = rec(spec.parameters);
      // Kind[.apiGroup]/name (an apiGroup set to "" still adds the dot).
      parameters = `${str(p.kind)}${typeof p.apiGroup === 'string' ? `.${p.apiGroup}` : ''}/${str(p.name)}`;
    }
    return { cells: [ic.metadata.name ?? '', str(spec.controller), parameters, ageOf(ic, now)] };
  },
};

// The printer quotes discovery/v1beta1's documentation for these columns.
const SLICE = {
  addressType:
    'addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type. This field is immutable after creation. The following address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name.',
  ports:
    'ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a unique name. When ports is empty, it indicates that there are no defined ports. When a port is defined with a nil port value, it indicates "all ports". Each slice may include a maximum of 100 ports.',
  endpoints: 'endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints.',
};

/** A slice port: its number, else its name, else `*` (all ports). */
const slicePort = (p: Record<string, unknown>) => (typeof p.port === 'number' ? String(int(p.port)) : typeof p.name === 'string' ? p.name : '*');

export const endpointSlicePrinter: Printer = {
  columns: [NAME_COLUMN, column('AddressType', S, SLICE.addressType), column('Ports', S, SLICE.ports), column('Endpoints', S, SLICE.endpoints), AGE_COLUMN],
  print(slice, now) {
    // Every address of every endpoint, ready or not (unlike the Endpoints printer).
    const addresses = arr(slice.endpoints).flatMap((e) => arr<string>(e.addresses).map(String));
    return { cells: [slice.metadata.name ?? '', str(slice.addressType), listWithMore(arr(slice.ports).map(slicePort)), listWithMore(addresses), ageOf(slice, now)] };
  },
};

export const leasePrinter: Printer = {
  columns: [
    NAME_COLUMN,
    column('Holder', S, 'holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field.'),
    AGE_COLUMN,
  ],
  print: (lease, now) => ({ cells: [lease.metadata.name ?? '', str(rec(lease.spec).holderIdentity), ageOf(lease, now)] }),
};
