// dryRun=All: the request goes through everything a real one does (decoding, defaulting,
// admission, validation, preconditions, the existence checks of the store) and writes nothing, as
// kube-apiserver's DryRunnableStorage does it: a registry over this store, which reads the real
// one and answers writes as if they had happened. A dry-run create returns the object without a
// resourceVersion (nothing was stored); a dry-run update keeps the one it had.
import { KeyExistsError, KeyNotFoundError, RevisionConflictError, type KeyValue, type KineStore } from '../storage/kine.ts';

export class DryRunStore {
  constructor(private readonly real: KineStore) {}

  get(key: string): KeyValue | undefined {
    return this.real.get(key);
  }

  list(...args: Parameters<KineStore['list']>): ReturnType<KineStore['list']> {
    return this.real.list(...args);
  }

  currentRevision(): number {
    return this.real.currentRevision();
  }

  compactRevision(): number {
    return this.real.compactRevision();
  }

  create(key: string): number {
    if (this.real.get(key)) throw new KeyExistsError(key);
    return 0;
  }

  update(key: string, _value: unknown, expectedRevision: number): number {
    const current = this.live(key);
    if (current.modRevision !== expectedRevision) throw new RevisionConflictError(key, expectedRevision, current);
    return expectedRevision;
  }

  delete(key: string, expectedRevision?: number): { revision: number; prev: KeyValue } {
    const current = this.live(key);
    if (expectedRevision !== undefined && current.modRevision !== expectedRevision) throw new RevisionConflictError(key, expectedRevision, current);
    return { revision: this.real.currentRevision(), prev: current };
  }

  watch(): never {
    throw new Error('a dry run does not watch');
  }

  private live(key: string): KeyValue {
    const kv = this.real.get(key);
    if (!kv) throw new KeyNotFoundError(key);
    return kv;
  }

  /** The store as the registry types it (the registry calls only the methods above). */
  asKineStore(): KineStore {
    return this as unknown as KineStore;
  }
}
