/**
 * Tests that run the command as a user does spawn dist/: this builds it when any of `files` is missing or older
 * than a source file under src/, kernels/ or bench/.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Newest modification time of the .ts files under `folder`. */
function newestSource(folder: string): number {
  let newest = 0;
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** `files`: paths under the repository root, e.g. 'dist/src/cli/main.js'. */
export function ensureBuiltDist(files: readonly string[]): void {
  const built = files.map((file) => join(root, file));
  const newest = Math.max(...['src', 'kernels', 'bench'].map((folder) => newestSource(join(root, folder))));
  if (built.some((file) => !existsSync(file) || statSync(file).mtimeMs < newest)) {
    // tsc writes the JavaScript even when some file has a type error (someone's work in progress elsewhere); these
    // tests are about what the command does, so only a build that wrote nothing fails them.
    spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  }
  for (const file of built) if (!existsSync(file)) throw new Error(`building dist/ failed: ${file} is missing`);
}
