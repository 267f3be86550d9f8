// writeSafetensors: validate, lay out, and atomically write one .safetensors file.

import { planSafetensors, tensorBytes, type TensorsToWrite } from './layout.ts';
import { writeAll, writeFileAtomic } from './atomic.ts';

/**
 * Writes `tensors` (and optional string metadata) to `path`, replacing any existing file
 * atomically. All shapes, dtypes and lengths are checked before the temp file is created;
 * an error while writing removes the temp file and leaves the old file as it was.
 */
export function writeSafetensors(path: string, tensors: TensorsToWrite, metadata?: Record<string, string>): void {
  const plan = planSafetensors(path, tensors, metadata);
  writeFileAtomic(path, (fd) => {
    writeAll(fd, plan.header);
    // One tensor at a time, so an F16 conversion never holds a second copy of the model.
    for (const t of plan.tensors) writeAll(fd, tensorBytes(path, t));
  });
}

/** The bytes of a .safetensors file holding `tensors`, in memory (same layout as the writer). */
export function encodeSafetensors(tensors: TensorsToWrite, metadata?: Record<string, string>, label = '<memory>'): Uint8Array {
  const plan = planSafetensors(label, tensors, metadata);
  const out = new Uint8Array(plan.fileSize);
  out.set(plan.header, 0);
  for (const t of plan.tensors) {
    out.set(tensorBytes(label, t), plan.header.length + t.begin);
  }
  return out;
}
