// Pod names as the ReplicaSet controller makes them: <deployment>-<pod-template-hash>-<5 chars>.
import { randomInt } from 'node:crypto';
import type { PodTemplateSpec } from '../api/types.ts';

/** k8s.io/apimachinery/pkg/util/rand: no vowels (no words), no 0/1/3 (look like letters). */
export const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** FNV-1a, 32 bit: the hash Kubernetes uses for pod-template-hash. */
export function fnv32a(data: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(data, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** rand.SafeEncodeString: maps each character of s to the safe alphabet. */
export function safeEncodeString(s: string): string {
  let out = '';
  for (const ch of s) out += SAFE_ALPHABET[ch.charCodeAt(0) % SAFE_ALPHABET.length];
  return out;
}

/** Deterministic JSON: object keys sorted, so the same template always hashes the same. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * controller.ComputeHash: fnv32a of the template (Kubernetes hashes a deep-printed Go struct; we
 * hash canonical JSON, so values differ from a real cluster but have the same shape and the same
 * property: the hash changes exactly when the template does), then the decimal digits encoded.
 */
export function podTemplateHash(template: PodTemplateSpec, collisionCount = 0): string {
  const base = canonicalJson(template) + (collisionCount ? String(collisionCount) : '');
  return safeEncodeString(String(fnv32a(base)));
}

export function randomSuffix(length = 5, rand: (n: number) => number = randomInt): string {
  let s = '';
  for (let i = 0; i < length; i++) s += SAFE_ALPHABET[rand(SAFE_ALPHABET.length)];
  return s;
}

export function replicaSetName(deployment: string, hash: string): string {
  return `${deployment}-${hash}`;
}

/** names.SimpleNameGenerator: the generateName prefix is cut to 58 so the name fits 63. */
export function podName(deployment: string, hash: string, suffix: string): string {
  return `${replicaSetName(deployment, hash)}-`.slice(0, 58) + suffix;
}
