/**
 * Writes a file so that a crash or an error never leaves a half-written file at `path`: the bytes go
 * to a temporary file in the same folder (so the rename stays on one file system), which is
 * flushed to disk and then renamed over `path`. POSIX rename is atomic: readers see the old file or
 * the new one, never a mix.
 *
 * Limits: on Windows the folder itself is not fsynced (Node cannot open a folder there), so after a
 * power cut the rename may be lost, though neither file is corrupted.
 */

import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Writes the chunks, in order, to `path`, replacing any file there only once all are on disk. */
export async function writeFileAtomic(path: string, chunks: Iterable<Uint8Array | string>): Promise<void> {
  const folder = dirname(path);
  // A dot name, so a leftover from a killed process is hidden and recognisable.
  const tempPath = join(folder, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tempPath, 'wx');
  try {
    try {
      for (const chunk of chunks) await writeAll(handle, typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tempPath, path);
  } catch (error) {
    await unlink(tempPath).catch(() => {
      // The original error matters more than a temp file that could not be removed.
    });
    throw error;
  }
  await syncFolder(folder);
}

/** One write call may write fewer bytes than asked, and at most about 2 GiB; loop until done. */
async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  const maxWrite = 1 << 30;
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, Math.min(maxWrite, bytes.length - offset));
    offset += bytesWritten;
  }
}

/** Flushes the folder entry, so that the rename itself survives a power cut. */
async function syncFolder(folder: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
