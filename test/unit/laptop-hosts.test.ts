import { describe, expect, it } from 'vitest';
import { laptopHosts, LAPTOP_HOSTS_ANNOTATION } from '../../src/controllers/laptop-hosts.ts';

const ing = (name: string, hosts: (string | undefined)[], extra?: string) => ({
  metadata: { name, namespace: 'default', ...(extra !== undefined ? { annotations: { [LAPTOP_HOSTS_ANNOTATION]: extra } } : {}) },
  spec: { rules: hosts.map((host) => (host ? { host } : {})) },
});

describe('the laptop hosts line from Ingress objects', () => {
  it('lists exact hosts once, sorted, plus the annotation\'s; wildcards and host-less rules are left out', () => {
    const r = laptopHosts([ing('a', ['app2.com', '*.wild.com', undefined]), ing('b', ['app1.com', 'app2.com'], 'app3.com, extra.test')], '192.168.56.110');
    expect(r).toEqual({ lines: ['192.168.56.110\tapp1.com app2.com app3.com extra.test'], invalid: [] });
  });
  it('no host: no line', () => {
    expect(laptopHosts([ing('a', [undefined])], '192.168.56.110').lines).toEqual([]);
  });
  it('reports a name that is not a host name, and keeps the others', () => {
    const r = laptopHosts([ing('a', ['ok.com'], 'Bad_Host')], '10.0.0.1');
    expect(r.lines).toEqual(['10.0.0.1\tok.com']);
    expect(r.invalid).toEqual(['Ingress default/a: lab/laptop-hosts: "Bad_Host" is not a valid host name']);
  });
});
