// Removing nftables mode's table: `lab down`, and the iptables mode's cleanup of the other mode.
import { run, type Netns } from '../sys/exec.ts';
import { LAB_TRACE_TABLE, NFT_TABLE } from './nft-names.ts';

/** `nft delete table ip kube-proxy` (or the lab's other table, lab-trace); false when there was none. */
export async function teardownNftTable(netns: Netns, table: typeof NFT_TABLE | typeof LAB_TRACE_TABLE = NFT_TABLE): Promise<boolean> {
  const r = await run(['nft', 'delete', 'table', 'ip', table], { netns, allowFail: true });
  if (r.exitCode === 0) return true;
  if (/No such file or directory/.test(r.stderr)) return false;
  throw new Error(`nft delete table ip ${table} failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
}
