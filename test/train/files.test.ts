/** Output directories: created level by level (never hanging as Node's recursive mkdir does on /proc), errors naming the path. */
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureDirectory, prepareOutputDirectory, removeIfEmpty } from '../../src/train/checkpoint/files.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'webtrainer-files-'));
});

describe('ensureDirectory', () => {
  it('creates missing parents, says whether it created the directory, and accepts one that exists', async () => {
    const nested = join(dir, 'a', 'b', 'c');
    expect(await ensureDirectory(nested)).toBe(true);
    expect((await stat(nested)).isDirectory()).toBe(true);
    expect(await ensureDirectory(nested)).toBe(false);
  });

  // Node 20's mkdir(path, {recursive: true}) loops forever here: mkdir says ENOENT although /proc exists.
  it.runIf(existsSync('/proc/self'))('fails at once on a path the file system refuses (/proc/x), naming it', async () => {
    await expect(ensureDirectory('/proc/x')).rejects.toThrow("cannot create directory '/proc/x': ENOENT: no such file or directory");
    await expect(ensureDirectory('/proc/x/y')).rejects.toThrow("cannot create directory '/proc/x/y': cannot create directory '/proc/x': ENOENT");
  });

  it('names the path when a file is in the way', async () => {
    const file = join(dir, 'file');
    await writeFile(file, 'x');
    await expect(ensureDirectory(file)).rejects.toThrow(`cannot create directory '${file}': a file of that name exists`);
    await expect(ensureDirectory(join(file, 'sub'))).rejects.toThrow(`cannot create directory '${join(file, 'sub')}': ENOTDIR: not a directory`);
  });
});

describe('prepareOutputDirectory', () => {
  it('leaves a writable directory as it found it (the probe file is removed)', async () => {
    const out = join(dir, 'out');
    expect(await prepareOutputDirectory(out)).toEqual({ created: true });
    expect(await readdir(out)).toEqual([]);
    expect(await prepareOutputDirectory(out)).toEqual({ created: false });
    await removeIfEmpty(out);
    expect(existsSync(out)).toBe(false);
  });

  // /proc exists but takes no new files, even from root.
  it.runIf(existsSync('/proc/self'))('names an existing directory that takes no files (/proc)', async () => {
    await expect(prepareOutputDirectory('/proc')).rejects.toThrow("directory '/proc' is not writable: ENOENT: no such file or directory");
  });

  // root may write anywhere, so the refusal can only be seen as another user.
  it.runIf(process.getuid?.() !== 0)('names a directory it cannot write in', async () => {
    const readOnly = join(dir, 'read-only');
    await ensureDirectory(readOnly);
    await chmod(readOnly, 0o500);
    await expect(prepareOutputDirectory(readOnly)).rejects.toThrow(`directory '${readOnly}' is not writable: EACCES: permission denied`);
    await chmod(readOnly, 0o700);
  });

  it('removeIfEmpty keeps a directory that holds something', async () => {
    const kept = join(dir, 'kept');
    await ensureDirectory(kept);
    await writeFile(join(kept, 'model.safetensors'), 'x');
    await removeIfEmpty(kept);
    expect(await readdir(kept)).toEqual(['model.safetensors']);
  });
});
