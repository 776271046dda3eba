// Name rules against the test vectors of k8s.io/apimachinery/pkg/util/validation (validation_test.go).

import { describe, expect, it } from 'vitest';
import {
  absolutePathProblem,
  configMapKeyProblem,
  dns1123SubdomainProblem,
  imageProblem,
  isConfigMapKey,
  isDns1035Label,
  isDns1123Label,
  isDns1123Subdomain,
  isEnvVarName,
  isIanaSvcName,
  isValidLabelKey,
  isValidLabelValue,
  relativePathProblem,
  suspiciousProblem,
} from '../../src/api/names.ts';

const a = (n: number) => 'a'.repeat(n);

function table(fn: (v: string) => boolean, good: string[], bad: string[]) {
  for (const v of good) it(`accepts ${JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}...(${v.length})` : v)}`, () => expect(fn(v)).toBe(true));
  for (const v of bad) it(`refuses ${JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}...(${v.length})` : v)}`, () => expect(fn(v)).toBe(false));
}

const COMMON_BAD = ['', 'A', 'ABC', 'aBc', 'A1', 'A-1', '1-A', '-', 'a-', '-a', '1-', '-1', '_', 'a_', '_a', 'a_b', '1_', '_1', '1_2', ' ', 'a ', ' a', 'a b', '1 ', ' 1', '1 2'];

describe('isDns1123Label', () => {
  table(
    isDns1123Label,
    ['a', 'ab', 'abc', 'a1', 'a-1', 'a--1--2--b', '0', '01', '012', '1a', '1-a', '1--a--b--2', a(63)],
    [...COMMON_BAD, '.', 'a.', '.a', 'a.b', '1.', '.1', '1.2', a(64), '$(reboot)', '../etc', 'a\nb', 'a\0b'],
  );
});

describe('isDns1123Subdomain', () => {
  table(
    isDns1123Subdomain,
    ['a', 'ab', 'abc', 'a1', 'a-1', 'a--1--2--b', '0', '01', '012', '1a', '1-a', '1--a--b--2', 'a.a', 'a.1', '1.a', 'a.b.c', '0.0', 'a--1.b--2', a(253)],
    [...COMMON_BAD, '.', 'a.', '.a', 'a..b', 'a.-b', 'a-.b', a(254), '../../etc/passwd', 'web;reboot'],
  );
});

describe('isDns1035Label', () => {
  table(
    isDns1035Label,
    ['a', 'ab', 'abc', 'a1', 'a-1', 'a--1--2--b', a(63)],
    ['0', '01', '012', '1a', '1-a', '1--a--b--2', ...COMMON_BAD, '.', 'a.', '.a', 'a.b', '1.', '.1', '1.2', a(64)],
  );
});

describe('isValidLabelKey (qualified names)', () => {
  table(
    isValidLabelKey,
    [
      'simple', 'now-with-dashes', '1-starts-with-num', '1234', 'simple/simple', 'now-with-dashes/simple',
      'now-with-dashes/now-with-dashes', 'now.with.dots/now-with-dashes', 'now-with.dashes-and.dots/now_with.dashes-and_dots',
      '1.2.3.4/5678', 'Uppercase_Is_OK_123', 'example.com/Uppercase_Is_OK_123', 'requests.storage-foo', a(63),
      `${a(253)}/${'b'.repeat(63)}`, 'kubernetes.io/service-name',
    ],
    [
      'nospecialchars%^=@', 'cantendwithadash-', '-cantstartwithadash-', 'only/one/slash', 'Example.com/abc',
      'example_com/abc', 'example.com/', '/simple', a(64), `${a(254)}/abc`, '', 'app;rm -rf /',
    ],
  );
});

describe('isValidLabelValue', () => {
  table(
    isValidLabelValue,
    ['simple', 'now-with-dashes', '1-starts-with-num', 'end-with-num-1', '1234', a(63), '', 'Upper.And_lower-9'],
    ['nospecialchars%^=@', 'Tama-nui-te-rā.is_Māori.sun', '\\backslashes\\are\\bad', '-starts-with-dash', 'ends-with-dash-', '.starts.with.dot', 'ends.with.dot.', a(64), '$(reboot)'],
  );
});

describe('isIanaSvcName', () => {
  table(
    isIanaSvcName,
    ['telnet', 're-mail-ck', 'pop3', 'a', 'a-1', '1-a', 'a-1-b-2-c', '1-a-2-b-3', 'http'],
    ['longerthan15characters', '', a(16), '12345', '1-2-3-4', '-begin', 'end-', 'two--hyphens', 'whois++', 'HTTP', 'http_port'],
  );
});

describe('isConfigMapKey', () => {
  table(
    isConfigMapKey,
    ['a', 'good', 'good-good', 'still.good', 'this.is.also.good', '.so.is.this', 'THIS_IS_GOOD', 'so_is_this_17', 'index.html'],
    ['.', '..', '..bad', 'b*d', 'bad!&bad', '../../etc/passwd', 'a/b', '', 'a\nb'],
  );
});

describe('isEnvVarName', () => {
  table(isEnvVarName, ['A', 'ABC', 'AbC_123', '_123', 'a.b', 'a-b', '.a'], ['', '1a', 'A=B', 'PATH;reboot', 'a b', '$(X)']);
});

describe('problems worded for people', () => {
  it('names the suspicious part of a value', () => {
    expect(suspiciousProblem('$(reboot)')).toBe("contains shell metacharacters '$' '(' ')'");
    expect(suspiciousProblem('../../etc/passwd')).toBe("contains a '..' path element");
    expect(suspiciousProblem('a\nb')).toBe('contains a line break');
    expect(suspiciousProblem('a\0b')).toBe('contains a NUL byte');
    expect(suspiciousProblem('Web')).toBe('contains upper case letters');
    expect(suspiciousProblem('web')).toBeUndefined();
    expect(dns1123SubdomainProblem('web;reboot')).toMatch(/^must be a DNS-1123 subdomain: .* \(it contains shell metacharacters ';'\)$/);
    expect(dns1123SubdomainProblem('app2')).toBeUndefined();
    expect(configMapKeyProblem('..data')).toBe("must not start with '..'");
  });

  it('checks paths inside and outside volumes', () => {
    expect(absolutePathProblem('/usr/share/html')).toBeUndefined();
    expect(absolutePathProblem('/usr/../etc')).toBe("must not contain '..'");
    expect(absolutePathProblem('usr/share')).toMatch(/absolute/);
    expect(absolutePathProblem('/a..b/c')).toBeUndefined(); // '..' inside a name is not a path element
    expect(relativePathProblem('html/index.html')).toBeUndefined();
    expect(relativePathProblem('../x')).toBe("must not contain '..'");
    expect(relativePathProblem('/etc/passwd')).toBe('must be a relative path');
    expect(relativePathProblem('..x')).toBe("must not start with '..'");
  });

  it('accepts image references and refuses shell lines', () => {
    for (const ok of ['busybox', 'busybox:1.36', 'docker.io/library/busybox:1.36', 'localhost:5000/lab/busybox', `busybox@sha256:${'a'.repeat(64)}`]) {
      expect(imageProblem(ok), ok).toBeUndefined();
    }
    for (const bad of ['', 'busybox; reboot', 'Busybox', 'busybox:', '$(reboot)', 'busybox\nx']) {
      expect(imageProblem(bad), bad).toBeDefined();
    }
  });
});
