// Where a field sits in its YAML file, so every problem can name its line.

import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { Issue, PathSegment } from '../errors.ts';
import { formatPath } from '../errors.ts';

/** One YAML document of a file, with the means to turn a field path into a line number. */
export class YamlDoc {
  constructor(
    readonly file: string,
    readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  lineAt(offset: number): number {
    return this.lines.linePos(offset).line;
  }

  /** Line where the document's content starts (its first key). */
  startLine(): number {
    const range = this.doc.contents?.range ?? this.doc.range;
    return range ? this.lineAt(range[0]) : 1;
  }

  /**
   * Line of the deepest node along `path`: the key's line for a mapping field, the item's line for a
   * list item. A path that leaves the document (a required field that is missing) ends at its parent.
   */
  lineOf(path: readonly PathSegment[]): number {
    let node: unknown = this.doc.contents;
    let line = this.startLine();
    for (const seg of path) {
      if (isAlias(node)) node = node.resolve(this.doc);
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && keyText(p.key) === String(seg));
        if (!pair) break;
        const keyRange = (pair.key as Node | null)?.range;
        if (keyRange) line = this.lineAt(keyRange[0]);
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg] as Node | undefined;
        if (!item?.range) break;
        line = this.lineAt(item.range[0]);
        node = item;
      } else {
        break;
      }
    }
    return line;
  }
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

/** Collects issues for one file; objects name themselves as `Kind namespace/name`. */
export class Reporter {
  readonly issues: Issue[] = [];

  at(src: YamlDoc, object: string | undefined, path: readonly PathSegment[], message: string, prefix: readonly PathSegment[] = []): void {
    this.issues.push({
      file: src.file,
      line: src.lineOf([...prefix, ...path]),
      ...(object ? { object } : {}),
      ...(path.length > 0 ? { field: formatPath(path) } : {}),
      message,
    });
  }

  raw(issue: Issue): void {
    this.issues.push(issue);
  }
}
