// `lab proxy render` reproduces kube-proxy's documented example from a state file, without root.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('lab proxy render', () => {
  it("renders kube-proxy's documented two-Service example with its chain names", () => {
    const out = execFileSync(process.execPath, [path.join(ROOT, 'bin/lab.js'), 'proxy', 'render', '--name', 'pplt-none', '--state', 'test/fixtures/kube-proxy/docs-example.yaml', '--config', 'test/fixtures/kube-proxy/config.yaml'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    for (const chain of ['KUBE-SVC-XPGD46QRK7WJZT7O', 'KUBE-SVC-2VJB64SDSIJUP5T6', 'KUBE-SEP-SNQ3ZNILQDEJNDQO', 'KUBE-SEP-UHEGFW77JX3KXTOV']) expect(out).toContain(`:${chain} - [0:0]`);
    expect(out).toContain('-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O');
    expect(out).toContain('-A KUBE-SVC-2VJB64SDSIJUP5T6 -m comment --comment "ns2/svc2:p8080 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 8080 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ');
    expect(out).toContain('-A KUBE-SEP-UHEGFW77JX3KXTOV -m comment --comment ns2/svc2:p8080 -m tcp -p tcp -j DNAT --to-destination 10.0.2.1:8080');
    expect(out.trim().split('\n').filter((l) => l === 'COMMIT')).toHaveLength(2);
  });

  it('--proxy-mode nftables renders the table ip kube-proxy with kube-proxy\'s chain names', () => {
    const out = execFileSync(process.execPath, [path.join(ROOT, 'bin/lab.js'), 'proxy', 'render', '--name', 'pplt-none', '--proxy-mode', 'nftables', '--state', 'test/fixtures/kube-proxy/docs-example.yaml', '--config', 'test/fixtures/kube-proxy/config.yaml'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out).toContain('add table ip kube-proxy { comment "rules for kube-proxy" ; }');
    expect(out).toContain('add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 ip daddr 172.30.0.41 tcp dport 80 ip saddr != 10.0.0.0/8 jump mark-for-masquerade');
    expect(out).toContain('add element ip kube-proxy service-ips { 172.30.0.42 . tcp . 8080 : goto service-MHHHYRWA-ns2/svc2/tcp/p8080 }');
    expect(out).not.toContain('KUBE-');
  });
});
