// The pure parts of the API server's HTTPS front: Go's JSON errors, kube's summaries, Go's
// encoding of responses, the built-in paths, bearer tokens, kubeconfig text and the openssl config.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderKubeconfig } from '../../src/api/kubeconfig.ts';
import { pkiSettings, servingSans } from '../../src/api/pki.ts';
import { bearerToken, tokenUser } from '../../src/api/server/auth.ts';
import { builtin, labVersion } from '../../src/api/server/builtin.ts';
import { decodeObject, goJsonSyntaxError, quoteChar, summarizeData } from '../../src/api/server/json.ts';
import { goJson } from '../../src/api/server/respond.ts';
import { StatusError, statusOf } from '../../src/api/server/status.ts';
import { requestConfig } from '../../src/sys/openssl.ts';

const bytes = (s: string) => Buffer.from(s, 'latin1');

describe("Go's encoding/json syntax errors", () => {
  // Each message as encoding/json's scanner writes it (quoteChar, the scanner's contexts).
  const cases: [string, string | null][] = [
    ['{"kind":"Pod"}', null],
    ['  [1, -2.5e+3, true, false, null, "\\u00e9\\n"]  ', null],
    ['imastring!', "invalid character 'i' looking for beginning of value"],
    ['{]', "invalid character ']' looking for beginning of object key string"],
    ['{', 'unexpected end of JSON input'],
    ['', 'unexpected end of JSON input'],
    ['   ', 'unexpected end of JSON input'],
    ['{"a":1}x', "invalid character 'x' after top-level value"],
    ['{"a":1,}', "invalid character '}' looking for beginning of object key string"],
    ['[1,]', "invalid character ']' looking for beginning of value"],
    ['{"a" 1}', "invalid character '1' after object key"],
    ['{"a":1 "b":2}', `invalid character '"' after object key:value pair`],
    ['[1 2]', "invalid character '2' after array element"],
    ['trx', "invalid character 'x' in literal true (expecting 'u')"],
    ['{"a":nul}', "invalid character '}' in literal null (expecting 'l')"],
    ['-x', "invalid character 'x' in numeric literal"],
    ['1.x', "invalid character 'x' after decimal point in numeric literal"],
    ['1ex', "invalid character 'x' in exponent of numeric literal"],
    ['{"a":01}', "invalid character '1' after object key:value pair"],
    ['"\\x"', "invalid character 'x' in string escape code"],
    ['"\\u12g4"', "invalid character 'g' in \\u hexadecimal character escape"],
    ['"a\nb"', "invalid character '\\n' in string literal"],
    ["'a'", "invalid character '\\'' looking for beginning of value"],
    ['\\', "invalid character '\\\\' looking for beginning of value"],
    ['\x01', "invalid character '\\x01' looking for beginning of value"],
    ['\xe9', "invalid character 'é' looking for beginning of value"],
    ['\x85', "invalid character '\\u0085' looking for beginning of value"],
  ];
  for (const [input, message] of cases) {
    it(JSON.stringify(input), () => expect(goJsonSyntaxError(bytes(input))).toBe(message));
  }

  it('nesting: 10000 levels are fine, the 10001st is "exceeded max depth" (no stack overflow at any depth)', () => {
    expect(goJsonSyntaxError(bytes('['.repeat(10000) + ']'.repeat(10000)))).toBeNull();
    expect(goJsonSyntaxError(bytes('['.repeat(10001) + ']'.repeat(10001)))).toBe("invalid character '[' exceeded max depth");
    expect(goJsonSyntaxError(bytes('{"a":'.repeat(200000)))).toBe("invalid character '{' exceeded max depth");
  });

  it('quoteChar: the special cases', () => {
    expect([0x27, 0x22, 0x09, 0x7f, 0xa0, 0xad, 0x41].map(quoteChar)).toEqual(["'\\''", `'"'`, "'\\t'", "'\\x7f'", "'\\u00a0'", "'\\u00ad'", "'A'"]);
  });
});

describe('decoding a request body as kube-apiserver does', () => {
  const message = (body: string) => {
    try {
      decodeObject(Buffer.from(body), 'Pod');
      return null;
    } catch (e) {
      expect(e).toBeInstanceOf(StatusError);
      expect(statusOf(e)).toMatchObject({ kind: 'Status', code: 400, reason: 'BadRequest' });
      return statusOf(e)!.message;
    }
  };
  const prefix = "the object provided is unrecognized (must be of type Pod): couldn't get version/kind; json parse error: ";

  it('objects pass; null is an empty object', () => {
    expect(decodeObject(Buffer.from('{"metadata":{"name":"x"}}'), 'Pod')).toEqual({ metadata: { name: 'x' } });
    expect(decodeObject(Buffer.from('null'), 'Pod')).toEqual({});
  });

  it('summaries: an object as text (30 bytes), anything else as hex, nothing as <empty>', () => {
    expect(message('{"metadata":{"name":"a-rather-long-name"}')).toBe(`${prefix}unexpected end of JSON input ({"metadata":{"name":"a-rather- ...)`);
    expect(message('kind: Pod')).toBe(`${prefix}invalid character 'k' looking for beginning of value (6b696e643a20506f64)`);
    expect(message('')).toBe(`${prefix}unexpected end of JSON input (<empty>)`);
    expect(summarizeData(Buffer.alloc(31, 0x61), 30)).toBe(`${'61'.repeat(30)} ...`);
  });

  it("valid JSON that is no object, or whose apiVersion or kind is no string: Go's type errors", () => {
    expect(message('[1]')).toBe(`${prefix}json: cannot unmarshal array into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" } (5b315d)`);
    expect(message('"x"')).toMatch(/json: cannot unmarshal string into Go value of type struct/);
    expect(message('{"kind":5}')).toBe(`${prefix}json: cannot unmarshal number into Go struct field .kind of type string ({"kind":5})`);
    expect(message('{"APIVERSION":true}')).toBe(`${prefix}json: cannot unmarshal bool into Go struct field .apiVersion of type string ({"APIVERSION":true})`);
  });
});

describe('responses', () => {
  it("Go's encoder escapes <, > and & (and the line separators)", () => {
    expect(goJson({ message: '(<empty>) & \u2028' })).toBe('{"message":"(\\u003cempty\\u003e) \\u0026 \\u2028"}');
    expect(JSON.parse(goJson({ message: '<&>' })).message).toBe('<&>');
  });

  it('/version: kube-shaped, indented as WriteRawJSON writes it', () => {
    const v = builtin('GET', '/version', new URLSearchParams(), labVersion())!;
    expect(v.contentType).toBe('application/json');
    expect(v.body.split('\n')[1]).toBe('  "major": "1",');
    expect(Object.keys(JSON.parse(v.body))).toEqual(['major', 'minor', 'gitVersion', 'gitCommit', 'gitTreeState', 'buildDate', 'goVersion', 'compiler', 'platform']);
    expect(builtin('POST', '/version', new URLSearchParams(), labVersion())).toBeUndefined();
  });

  it('health checks: /healthz, /livez, /readyz and their /ping; an unknown check is no path', () => {
    const q = new URLSearchParams();
    expect(builtin('GET', '/livez', q, labVersion())).toEqual({ status: 200, contentType: 'text/plain; charset=utf-8', body: 'ok' });
    expect(builtin('GET', '/readyz/ping', q, labVersion())?.body).toBe('ok');
    expect(builtin('GET', '/healthz', new URLSearchParams('verbose'), labVersion())?.body).toBe('[+]ping ok\nhealthz check passed\n');
    expect(builtin('GET', '/healthz/etcd', q, labVersion())).toBeUndefined();
    expect(builtin('GET', '/healthzz', q, labVersion())).toBeUndefined();
  });
});

describe('bearer tokens', () => {
  it('Authorization: Bearer <token>, the scheme in any case', () => {
    expect(bearerToken({ authorization: 'Bearer abc' })).toBe('abc');
    expect(bearerToken({ authorization: 'bearer abc extra' })).toBe('abc');
    expect(bearerToken({ authorization: 'Basic YTpi' })).toBeNull();
    expect(bearerToken({ authorization: 'Bearer' })).toBeNull();
    expect(bearerToken({})).toBeNull();
  });

  it('the token names its user; every authenticated user is in system:authenticated', () => {
    const tokens = [{ token: 'a'.repeat(64), user: { name: 'system:admin', groups: ['system:masters'] } }];
    expect(tokenUser('a'.repeat(64), tokens)).toEqual({ name: 'system:admin', groups: ['system:masters', 'system:authenticated'] });
    expect(tokenUser('a'.repeat(63), tokens)).toBeNull();
  });
});

describe('kubeconfig', () => {
  const ca = '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n';

  it("k3s.yaml's shape: one cluster, user and context named default, the PEMs inlined", () => {
    const text = renderKubeconfig({ server: 'https://192.168.56.110:6443', certificateAuthority: ca, clientCertificate: 'CERT', clientKey: 'KEY' });
    expect(parse(text)).toEqual({
      apiVersion: 'v1',
      clusters: [{ cluster: { 'certificate-authority-data': Buffer.from(ca).toString('base64'), server: 'https://192.168.56.110:6443' }, name: 'default' }],
      contexts: [{ context: { cluster: 'default', user: 'default' }, name: 'default' }],
      'current-context': 'default',
      kind: 'Config',
      preferences: {},
      users: [{ name: 'default', user: { 'client-certificate-data': 'Q0VSVA==', 'client-key-data': 'S0VZ' } }],
    });
  });

  it('a token, or nothing; a token YAML would read as a number stays a string', () => {
    expect(parse(renderKubeconfig({ server: 'https://127.0.0.1:6443', certificateAuthority: ca, token: '1234e5' })).users[0].user).toEqual({ token: '1234e5' });
    expect(renderKubeconfig({ server: 'https://127.0.0.1:6443', certificateAuthority: ca })).toMatch(/- name: default\n {2}user: \{\}\n$/);
  });

  it('refuses what is no https URL, and half a client certificate', () => {
    expect(() => renderKubeconfig({ server: 'http://127.0.0.1:6443', certificateAuthority: ca })).toThrow(/https only/);
    expect(() => renderKubeconfig({ server: 'nope', certificateAuthority: ca })).toThrow(/invalid server URL/);
    expect(() => renderKubeconfig({ server: 'https://a:b@h:6443', certificateAuthority: ca })).toThrow(/credentials/);
    expect(() => renderKubeconfig({ server: 'https://h:6443', certificateAuthority: ca, clientCertificate: 'C' })).toThrow(/needs its key/);
  });
});

describe('certificate requests', () => {
  it("k3s's SANs from lab/config.yaml's settings (the Service IP is the service CIDR's first address)", () => {
    const s = pkiSettings({ nodeName: 'labs', nodeIP: '192.168.56.110', serviceCIDR: '10.43.0.0/16', clusterDomain: 'cluster.local' });
    expect(s.serviceIP).toBe('10.43.0.1');
    expect(servingSans(s)).toEqual({
      dns: ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', 'localhost', 'labs'],
      ips: ['127.0.0.1', '::1', '192.168.56.110', '10.43.0.1'],
    });
  });

  it('the openssl config: subject in Go order, and nothing openssl would expand', () => {
    expect(requestConfig({ commonName: 'system:admin', organizations: ['system:masters'], extensions: ['extendedKeyUsage = clientAuth'] })).toBe(
      '[ req ]\ndistinguished_name = dn\nprompt = no\nstring_mask = utf8only\n[ dn ]\n0.O = system:masters\nCN = system:admin\n[ ext ]\nextendedKeyUsage = clientAuth\n',
    );
    expect(() => requestConfig({ commonName: '$ENV::HOME', extensions: [] })).toThrow(/refusing/);
    expect(() => requestConfig({ commonName: 'x', extensions: ['subjectAltName = DNS:a\n[ dn ]'] })).toThrow(/refusing/);
  });
});
