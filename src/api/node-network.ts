// The node network the exercise is built on: the host-only network 192.168.56.0/24 between the
// laptop and the VM (the Vagrantfile's private_network, VirtualBox's vboxnet0), or in sandbox mode
// the veth pair standing in for it. No imports: the node's plumbing and the learner's tools read
// these without loading the manifest parser.

/** Prefix length of the node network. */
export const NODE_NETWORK_PREFIX = 24;

/** The laptop's address on it (VirtualBox's host side; the sandbox's laptop namespace). */
export const LAPTOP_IP = '192.168.56.1';
