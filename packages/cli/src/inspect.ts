// `reconvla inspect FILE|DIR`: a first look at a checkpoint without loading it. Lists every
// tensor (name, dtype, shape, bytes, and its shard for a sharded checkpoint), the metadata and
// the parameter count. Only headers are read. A malformed file fails with the reader's
// SafetensorsError (file, tensor, problem) and exit code 1, never with a stack trace.
import * as path from 'node:path';
import type { Command } from 'commander';
import { openCheckpoint, ShardedCheckpoint, type TensorInfo } from '@reconvla/core';

export interface InspectReport {
  path: string;
  /** 'file' for one .safetensors file, 'sharded' for an index and its shards. */
  kind: 'file' | 'sharded';
  files: { file: string; tensors: number; bytes: number }[];
  metadata: Record<string, string>;
  tensors: { name: string; dtype: string; shape: number[]; bytes: number; file: string }[];
  parameters: number;
  bytes: number;
}

/** Reads the headers of a checkpoint (file, index .json, or directory) into a report. */
export function inspectCheckpoint(target: string): InspectReport {
  const src = openCheckpoint(target);
  try {
    // A sharded checkpoint opens every shard now, so a broken one is reported here.
    if (src instanceof ShardedCheckpoint) src.validateAll();
    const infos: TensorInfo[] = src.names().map((n) => src.info(n));
    const files = new Map<string, { file: string; tensors: number; bytes: number }>();
    for (const info of infos) {
      const f = files.get(info.path) ?? { file: path.basename(info.path), tensors: 0, bytes: 0 };
      f.tensors++;
      f.bytes += info.byteLength;
      files.set(info.path, f);
    }
    if (files.size === 0 && !(src instanceof ShardedCheckpoint)) files.set(src.path, { file: path.basename(src.path), tensors: 0, bytes: 0 });
    return {
      path: src.path,
      kind: src instanceof ShardedCheckpoint ? 'sharded' : 'file',
      files: [...files.values()],
      metadata: { ...src.metadata },
      tensors: infos.map((i) => ({ name: i.name, dtype: i.dtype, shape: i.shape, bytes: i.byteLength, file: path.basename(i.path) })),
      parameters: infos.reduce((sum, i) => sum + i.shape.reduce((a, b) => a * b, 1), 0),
      bytes: infos.reduce((sum, i) => sum + i.byteLength, 0),
    };
  } finally {
    src.close();
  }
}

/** 1234567 -> "1.23M" (parameters), 4.2e9 -> "4.20B". */
function count(n: number): string {
  for (const [unit, v] of [['B', 1e9], ['M', 1e6], ['K', 1e3]] as const) if (n >= v) return `${(n / v).toFixed(2)}${unit}`;
  return String(n);
}

/** Bytes in binary units: 1536 -> "1.5 KiB". */
function size(n: number): string {
  for (const [unit, v] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) if (n >= v) return `${(n / v).toFixed(1)} ${unit}`;
  return `${n} B`;
}

/** The report as aligned text. */
export function formatReport(r: InspectReport): string {
  const lines: string[] = [];
  lines.push(r.kind === 'sharded'
    ? `${r.path}: sharded checkpoint, ${r.files.length} shard files`
    : `${r.path}: safetensors file`);
  if (r.kind === 'sharded') for (const f of r.files) lines.push(`  ${f.file}: ${f.tensors} tensors, ${size(f.bytes)}`);
  const meta = Object.entries(r.metadata);
  lines.push(`metadata: ${meta.length === 0 ? 'none' : `${meta.length} keys`}`);
  // Long values (a config, a parameter list) are cut in the text view; --json has them whole.
  for (const [k, v] of meta) lines.push(`  ${k}: ${v.length > 100 ? `${v.slice(0, 97).replace(/\s+/g, ' ')}... (${v.length} chars)` : v}`);
  lines.push(`tensors: ${r.tensors.length}, parameters: ${r.parameters} (${count(r.parameters)}), data: ${r.bytes} bytes (${size(r.bytes)})`);
  const rows = r.tensors.map((t) => [t.name, t.dtype, `[${t.shape.join(', ')}]`, String(t.bytes), ...(r.kind === 'sharded' ? [t.file] : [])]);
  const head = ['name', 'dtype', 'shape', 'bytes', ...(r.kind === 'sharded' ? ['file'] : [])];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: string[]) => `  ${cells.map((s, c) => (c === 3 ? s.padStart(widths[c]!) : s.padEnd(widths[c]!))).join('  ')}`.trimEnd();
  if (rows.length > 0) {
    lines.push(line(head));
    for (const row of rows) lines.push(line(row));
  }
  return lines.join('\n');
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('list the tensors (name, dtype, shape, bytes), metadata and parameter count of a safetensors file, a sharded index or a checkpoint directory')
    .argument('<path>', 'a .safetensors file, a model.safetensors.index.json, or a directory holding either')
    .option('--json', 'print the report as JSON (metadata values in full)')
    .action((target: string, opts: { json?: boolean }) => {
      // A SafetensorsError names the file, the tensor and the problem; main() prints its message
      // (no stack trace) and exits with 1.
      const report = inspectCheckpoint(target);
      console.log(opts.json ? JSON.stringify(report, null, 2) : formatReport(report));
    });
}
