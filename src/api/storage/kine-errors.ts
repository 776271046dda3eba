// The store's typed errors; the registry turns each into the Status kube-apiserver answers with.

export interface KeyValue {
  key: string;
  value: Buffer;
  createRevision: number;
  modRevision: number;
  lease: number;
}

/** A revision older than the compacted one was asked for (etcd's ErrCompacted; HTTP 410 Gone). */
export class GoneError extends Error {
  constructor(
    readonly requested: number,
    readonly compactRevision: number,
    readonly currentRevision: number,
  ) {
    super(`revision ${requested} has been compacted (compacted to ${compactRevision}, current ${currentRevision})`);
    this.name = 'GoneError';
  }
}

/** A revision newer than the store's was asked for (kine's ErrFutureRev). */
export class FutureRevisionError extends Error {
  constructor(
    readonly requested: number,
    readonly currentRevision: number,
  ) {
    super(`revision ${requested} is newer than the current revision ${currentRevision}`);
    this.name = 'FutureRevisionError';
  }
}

export class KeyExistsError extends Error {
  constructor(readonly key: string) {
    super(`key exists: ${key}`);
    this.name = 'KeyExistsError';
  }
}

export class KeyNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`key not found: ${key}`);
    this.name = 'KeyNotFoundError';
  }
}

/** The key's newest revision is not the one the write expected (a compare-and-swap that lost). */
export class RevisionConflictError extends Error {
  constructor(
    readonly key: string,
    readonly expected: number,
    readonly current: KeyValue,
  ) {
    super(`key ${key} is at revision ${current.modRevision}, not ${expected}`);
    this.name = 'RevisionConflictError';
  }
}
