// Types of bin/bundles.mjs (plain JavaScript, so that bin/lab.js can run it before TypeScript loads).
export interface BundleSpec {
  /** TypeScript entry point, relative to the checkout. */
  entry: string;
  /** The bundle's entry file, relative to the checkout. */
  outfile: string;
  /** Chunks loaded on demand (the CLI), or one self-contained file (programs given to a pod). */
  splitting: boolean;
  /** 'browser': a page's script (no node built-ins, minified); the default is node. */
  platform?: 'node' | 'browser';
}
export interface BundleOptions {
  root?: string;
  bundles?: Record<string, BundleSpec>;
}
export const LAB_ROOT: string;
export const BUNDLES: { cli: BundleSpec; coredns: BundleSpec; 'prober-agent': BundleSpec; ui: BundleSpec };
export function isFresh(name: string, opts?: BundleOptions): boolean;
export function buildBundle(name: string, opts?: BundleOptions): Promise<void>;
export function ensureBundle(name: string, opts?: BundleOptions): Promise<string>;
export function ensureBundles(opts?: BundleOptions): Promise<void>;
