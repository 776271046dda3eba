// Printers of apps/v1 Deployment and ReplicaSet, as kube-apiserver's (printers.go, v1.32; the
// descriptions are extensions/v1beta1's swagger documentation, which the printer quotes).
import { AGE_COLUMN, ageOf, CONTAINERS_COLUMN, column, containerCells, formatLabelSelector, IMAGES_COLUMN, int, NAME_COLUMN, rec, selectorString, templateContainers, wide, type Printer } from './columns.ts';

const S = 'string';

// Deployment: READY (ready/desired) UP-TO-DATE AVAILABLE AGE, wide CONTAINERS IMAGES SELECTOR.
// Its columns are declared strings although UP-TO-DATE and AVAILABLE cells are numbers.
export const deploymentPrinter: Printer = {
  columns: [
    NAME_COLUMN,
    column('Ready', S, 'Number of the pod with ready state'),
    column('Up-to-date', S, 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.'),
    column('Available', S, 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.'),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    wide('Selector', 'Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.'),
  ],
  print(d, now) {
    const spec = rec(d.spec);
    const status = rec(d.status);
    const [names, images] = containerCells(templateContainers(d));
    // LabelSelectorAsSelector(...).String(), not FormatLabelSelector: an empty selector prints "".
    const selector = selectorString(spec.selector) ?? '<invalid>';
    return { cells: [d.metadata.name ?? '', `${int(status.readyReplicas)}/${int(spec.replicas)}`, int(status.updatedReplicas), int(status.availableReplicas), ageOf(d, now), names, images, selector] };
  },
};

const REPLICASET = {
  specReplicas:
    'Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller',
  statusReplicas: 'Replicas is the most recently observed number of replicas. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller',
  readyReplicas: 'The number of ready replicas for this replica set.',
  selector:
    'Selector is a label query over pods that should match the replica count. If the selector is empty, it is defaulted to the labels present on the pod template. Label keys and values that must match in order to be controlled by this replica set. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors',
};

// ReplicaSet: DESIRED CURRENT READY (integers) AGE, wide CONTAINERS IMAGES SELECTOR.
export const replicaSetPrinter: Printer = {
  columns: [
    NAME_COLUMN,
    column('Desired', 'integer', REPLICASET.specReplicas),
    column('Current', 'integer', REPLICASET.statusReplicas),
    column('Ready', 'integer', REPLICASET.readyReplicas),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    wide('Selector', REPLICASET.selector),
  ],
  print(rs, now) {
    const spec = rec(rs.spec);
    const status = rec(rs.status);
    const [names, images] = containerCells(templateContainers(rs));
    return { cells: [rs.metadata.name ?? '', int(spec.replicas), int(status.replicas), int(status.readyReplicas), ageOf(rs, now), names, images, formatLabelSelector(spec.selector)] };
  },
};
