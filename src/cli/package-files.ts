/** Files the package ships (bundled vocabulary and data sample), found from this module's location. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | null = null;

export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'webtrainer') {
      return (root = dir);
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('webtrainer: cannot find the package root (package.json named webtrainer)');
    dir = parent;
  }
}

export const bundled = {
  vocab: () => join(packageRoot(), 'data/vocab/bert-base-uncased-vocab.txt'),
  sst2Train: () => join(packageRoot(), 'data/sst2/train-sample.tsv'),
  sst2Dev: () => join(packageRoot(), 'data/sst2/dev.tsv'),
};
