/**
 * File-system helpers whose errors name the path. Output directories are created without Node's
 * `mkdir(path, {recursive: true})`, which loops forever at 100% CPU on a path it cannot create but whose parent
 * exists (Node 20 on Linux, e.g. `/proc/x`: mkdir says ENOENT, the parent exists, so it tries again). Here each
 * level is created once and a failure names the path.
 */
import { mkdir, open, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

/** Creates `path` and any missing parents; returns whether `path` itself was created (false: it existed). */
export async function ensureDirectory(path: string): Promise<boolean> {
  const absolute = resolve(path);
  try {
    await mkdir(absolute);
    return true;
  } catch (error) {
    const code = errorCode(error);
    if (code === 'EEXIST') return requireDirectory(path, absolute);
    if (code !== 'ENOENT') throw cannotCreate(path, error);
  }
  // ENOENT: a parent is missing. Create the parents, then try once more; a second ENOENT means the file system
  // refuses the name (as /proc does), not a missing parent.
  const parent = dirname(absolute);
  if (parent === absolute) throw new Error(`cannot create directory '${path}': its root does not exist`);
  await ensureDirectory(parent).catch((error: unknown) => {
    throw new Error(`cannot create directory '${path}': ${(error as Error).message}`, { cause: error });
  });
  try {
    await mkdir(absolute);
    return true;
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return requireDirectory(path, absolute); // made by someone else meanwhile
    throw cannotCreate(path, error);
  }
}

/**
 * Makes sure `path` is a directory this process can write files in, before any long work whose result goes
 * there. Creates it if needed (returns whether it did) and writes and removes a probe file.
 */
export async function prepareOutputDirectory(path: string): Promise<{ created: boolean }> {
  const created = await ensureDirectory(path);
  const probe = join(path, `.webtrainer-write-test-${process.pid}`);
  try {
    const handle = await open(probe, 'wx');
    await handle.close();
    await unlink(probe);
  } catch (error) {
    throw new Error(`directory '${path}' is not writable: ${describeError(error)}`, { cause: error });
  }
  return { created };
}

/** Removes a directory this process created, if nothing was put in it (a failed run leaves no trace). */
export async function removeIfEmpty(path: string): Promise<void> {
  await rmdir(path).catch(() => {
    // Not empty (a checkpoint was saved before the failure) or already gone: either way, leave it.
  });
}

async function requireDirectory(path: string, absolute: string): Promise<false> {
  const info = await stat(absolute).catch((error: unknown) => {
    throw cannotCreate(path, error);
  });
  if (!info.isDirectory()) throw new Error(`cannot create directory '${path}': a file of that name exists`);
  return false;
}

function cannotCreate(path: string, error: unknown): Error {
  return new Error(`cannot create directory '${path}': ${describeError(error)}`, { cause: error });
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Node's message without its trailing ", open '/the/path'", for errors that name the path themselves (Node's
 * EISDIR and EACCES messages name no path at all, ENOENT's does).
 */
export function describeError(error: unknown): string {
  const message = (error as Error).message ?? String(error);
  return message.replace(/, \w+ '.*'$/s, '');
}
