/**
 * A file read from its start in parts through one buffer used again.
 *
 * fs.createReadStream reads each part into a buffer of its own: memory outside V8's heap that
 * only a collection frees, and V8 starts one for it only once such memory has grown by about
 * 64 MB. Hashing or copying a large file that way (a 60 MB wheel from a watched build
 * folder, or found in the packages folder) left that much behind it for a while; this holds
 * one buffer of {@link PART_BYTES}, whatever the file's size.
 */
import { open } from 'node:fs/promises';

/** Bytes read at a time. */
export const PART_BYTES = 256 * 1024;

/**
 * Calls `each` with every part of the file at `path`, in order, and resolves to the file's
 * size. A part is valid only until `each` returns (or its promise settles): its buffer is
 * read into again after that. Rejects with the file system's error (ENOENT for a missing file).
 */
export async function eachPart(path: string, each: (part: Buffer) => void | Promise<void>): Promise<number> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafeSlow(PART_BYTES);
    let size = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, PART_BYTES, size);
      if (bytesRead === 0) return size;
      size += bytesRead;
      await each(buf.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
}
