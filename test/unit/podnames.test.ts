import { describe, expect, it } from 'vitest';
import { fnv32a, podName, podTemplateHash, randomSuffix, SAFE_ALPHABET, safeEncodeString } from '../../src/controllers/podnames.ts';
import type { PodTemplateSpec } from '../../src/api/types.ts';

const template: PodTemplateSpec = {
  metadata: { labels: { app: 'app2' }, annotations: {} },
  spec: { containers: [{ name: 'app2', image: 'busybox', command: ['httpd', '-f'], env: [], ports: [], volumeMounts: [] }], volumes: [], restartPolicy: 'Always', terminationGracePeriodSeconds: 30 },
};

describe('pod names', () => {
  it('FNV-1a 32 matches the reference vectors', () => {
    expect(fnv32a('')).toBe(0x811c9dc5);
    expect(fnv32a('a')).toBe(0xe40c292c);
    expect(fnv32a('foobar')).toBe(0xbf9cf968);
  });
  it('encodes with the safe alphabet like rand.SafeEncodeString', () => {
    // '0' is 48, 48 % 27 = 21 -> '4'; '9' is 57 % 27 = 3 -> 'f'
    expect(safeEncodeString('09')).toBe('4f');
  });
  it('pod-template-hash is stable and changes with the template', () => {
    const h = podTemplateHash(template);
    expect(h).toMatch(new RegExp(`^[${SAFE_ALPHABET}]{1,10}$`));
    expect(podTemplateHash(structuredClone(template))).toBe(h);
    const changed = structuredClone(template);
    changed.spec.containers[0]!.command = ['httpd', '-f', '-v'];
    expect(podTemplateHash(changed)).not.toBe(h);
    expect(podTemplateHash(template, 1)).not.toBe(h);
  });
  it('names pods <deployment>-<hash>-<5 safe chars> within 63 characters', () => {
    const s = randomSuffix();
    expect(s).toMatch(new RegExp(`^[${SAFE_ALPHABET}]{5}$`));
    expect(podName('app2', 'abc', s)).toBe(`app2-abc-${s}`);
    const long = podName('d'.repeat(60), '7d9f8c6b5', 'xxxxx');
    expect(long.length).toBe(63);
    expect(long.endsWith('xxxxx')).toBe(true);
  });
});
