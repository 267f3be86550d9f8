// Atomic file replacement: write a temp file next to the target, fsync it, rename it over
// the target. Readers see either the old file or the complete new one, never a partial
// write, and a crash or error mid-write leaves the old file untouched.

import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { randomBytes } from 'node:crypto';
import { SafetensorsError } from './errors.ts';

// writeSync, like readSync, wants chunks below 2 GiB.
const MAX_WRITE_CHUNK = 1 << 30;

/** Writes all of `bytes` at the descriptor's current position. */
export function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) {
    done += fs.writeSync(fd, bytes, done, Math.min(bytes.byteLength - done, MAX_WRITE_CHUNK));
  }
}

/** `.<name>.tmp-<pid>-<random>` in the target's directory, so the rename stays on one filesystem. */
export function tempPathFor(path: string): string {
  const dir = nodePath.dirname(path);
  return nodePath.join(dir, `.${nodePath.basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/**
 * Calls `write(fd)` on a fresh temp file, then fsyncs and renames it to `path`. If anything
 * throws, the temp file is removed and the error is rethrown (file-system errors wrapped in
 * a SafetensorsError naming `path`).
 */
export function writeFileAtomic(path: string, write: (fd: number) => void): void {
  const tmp = tempPathFor(path);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx', 0o644);
    write(fd);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, path);
  } catch (err) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // Already failing; the original error is the one to report.
      }
    }
    fs.rmSync(tmp, { force: true });
    if (err instanceof SafetensorsError) throw err;
    throw new SafetensorsError(path, `cannot write: ${(err as Error).message}`, { cause: err });
  }
  syncDirectory(nodePath.dirname(path));
}

/** `value` as indented JSON (a trailing newline), written atomically like writeFileAtomic. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, (fd) => writeAll(fd, new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`)));
}

/** Makes the rename itself durable. Best effort: some platforms cannot fsync a directory. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Durability of the directory entry is a bonus, not a correctness requirement.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
