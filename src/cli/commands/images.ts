// `lab images`: the lab's local images, as `crictl images` lists a node's (IMAGE, TAG, IMAGE ID,
// SIZE), plus where each comes from. The lab has no registry: these are the only images a pod can
// use. IMAGE ID and SIZE are those of the builds in the instance (src/kubelet/image-build.ts: the
// id is a sha256 of the image's inputs); an image the instance has not built yet shows `-`, and
// without a running instance the list is what the lab can run.
import type { ImageRecord } from '../../kubelet/image-build.ts';
import { builtImages, localImages } from '../../kubelet/images.ts';
import { instancePaths } from '../../node/instance.ts';
import { log, type Common } from '../common.ts';
import { table } from '../format.ts';

export type Args = Common;

type Local = ReturnType<typeof localImages>[number];

/** crictl's size: go-units' HumanSizeWithPrecision(size, 3), decimal units. */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let size = bytes;
  let i = 0;
  for (; size >= 1000 && i < units.length - 1; i++) size /= 1000;
  return `${Number(size.toPrecision(3))}${units[i]}`;
}

/**
 * One row per image and tag, the newest build of each image giving its id and size (crictl
 * truncates ids to 13 characters). Older builds of an image follow with TAG <none>, as crictl shows
 * an image whose tag moved on.
 */
export function imagesTable(images: Local[], builds: ImageRecord[]): string {
  const rows: string[][] = [];
  for (const image of images) {
    const [newest, ...older] = builds.filter((b) => b.name === image.repository).sort((a, b) => b.created.localeCompare(a.created));
    for (const tag of image.tags) {
      rows.push([image.repository, tag, newest ? newest.id.slice(0, 13) : '-', newest ? humanSize(newest.size) : '-', newest?.source ?? image.source]);
    }
    for (const b of older) rows.push([image.repository, '<none>', b.id.slice(0, 13), humanSize(b.size), b.source]);
  }
  return table(['IMAGE', 'TAG', 'IMAGE ID', 'SIZE', 'SOURCE'], rows);
}

export async function imagesHandler(a: Args): Promise<void> {
  const dir = instancePaths(a.name).imagesDir;
  const builds = await builtImages(dir);
  process.stdout.write(imagesTable(localImages(), builds));
  log(
    builds.length
      ? `# IMAGE ID and SIZE: the builds in ${dir}; <none> is an older build, kept until \`lab down\` (a container may still run on it)`
      : `# instance ${a.name} has built no image yet (lab up builds each on first use); any other image is refused: the lab has no registry`,
  );
}
