// kube-proxy's flush detector (src/proxy/canary.ts): what one iptables-save says is lost.
import { describe, expect, it } from 'vitest';
import { lostProxyRules } from '../../src/proxy/canary.ts';
import { JUMP_RULES, jumpRestoreLine, type Table } from '../../src/proxy/jumps.ts';

/** An iptables-save as a synced node has it: canaries in three tables, every jump in place. */
function save(opts: { dropCanary?: Table[]; dropJumpsFrom?: Table[] } = {}): string {
  const out: string[] = [];
  for (const t of ['mangle', 'filter', 'nat'] as Table[]) {
    out.push(`*${t}`, ':PREROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]');
    if (t !== 'mangle') out.push(':KUBE-SERVICES - [0:0]');
    if (!opts.dropCanary?.includes(t)) out.push(':KUBE-PROXY-CANARY - [0:0]');
    if (!opts.dropJumpsFrom?.includes(t)) {
      for (const j of JUMP_RULES.filter((x) => x.table === t)) out.push(jumpRestoreLine(j, '-I').replace(/^-I (\S+) 1 /, '-A $1 '));
    }
    out.push('-A OUTPUT -d 10.9.9.9/32 -j ACCEPT', 'COMMIT');
  }
  return out.join('\n') + '\n';
}

describe('lostProxyRules', () => {
  it('reports nothing when the canaries and jumps are all there', () => {
    expect(lostProxyRules(save())).toEqual([]);
  });

  it('`iptables -t nat -F`: the canary survives, the nat jumps are gone', () => {
    const lost = lostProxyRules(save({ dropJumpsFrom: ['nat'] }));
    expect(lost).toContain('jump nat PREROUTING -> KUBE-SERVICES missing');
    expect(lost).toContain('jump nat OUTPUT -> KUBE-SERVICES missing');
    expect(lost.some((l) => l.includes('CANARY'))).toBe(false);
  });

  it('`iptables -t nat -F; -X` (firewalld-style): the nat canary is reported', () => {
    expect(lostProxyRules(save({ dropCanary: ['nat'], dropJumpsFrom: ['nat'] }))).toContain('KUBE-PROXY-CANARY missing from nat');
  });

  it('a table absent from the save counts as lost (mangle never loaded, or wiped)', () => {
    const noMangle = save().replace(/\*mangle[\s\S]*?COMMIT\n/, '');
    expect(lostProxyRules(noMangle)).toEqual(['KUBE-PROXY-CANARY missing from mangle']);
  });

  it('a foreign rule jumping to KUBE-SERVICES with another comment does not count as ours', () => {
    const forged = save({ dropJumpsFrom: ['nat'] }).replace('*nat\n', '*nat\n-A PREROUTING -m comment --comment "not ours" -j KUBE-SERVICES\n');
    expect(lostProxyRules(forged)).toContain('jump nat PREROUTING -> KUBE-SERVICES missing');
  });
});
