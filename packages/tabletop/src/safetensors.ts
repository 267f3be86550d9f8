// A minimal safetensors writer and reader (https://github.com/huggingface/safetensors):
//   8 bytes   little-endian u64 N, the header's length
//   N bytes   JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}
//             padded with spaces to a multiple of 8
//   the data  raw little-endian tensors, offsets relative to the end of the header
// Tensors are laid out largest element size first, so every tensor starts at an offset
// that is a multiple of its element size and can be viewed in place without copying.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export type Dtype = 'U8' | 'I32' | 'F32' | 'I64';

export type TensorData = Uint8Array | Int32Array | Float32Array | BigInt64Array;

export interface Tensor {
  dtype: Dtype;
  shape: number[];
  data: TensorData;
}

const BYTES: Record<Dtype, number> = { U8: 1, I32: 4, F32: 4, I64: 8 };

function dtypeOf(data: TensorData): Dtype {
  if (data instanceof Uint8Array) return 'U8';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof Float32Array) return 'F32';
  return 'I64';
}

export function tensor(data: TensorData, shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new Error(`tensor: shape [${shape.join(', ')}] holds ${n} elements but the data has ${data.length}`);
  return { dtype: dtypeOf(data), shape, data };
}

/** Serialize named tensors (and string metadata) to safetensors bytes. */
export function encodeSafetensors(tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): Buffer {
  const names = Object.keys(tensors).sort((a, b) => BYTES[tensors[b]!.dtype] - BYTES[tensors[a]!.dtype] || (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header['__metadata__'] = metadata;
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__') throw new Error('a tensor may not be named __metadata__');
    const t = tensors[name]!;
    if (dtypeOf(t.data) !== t.dtype) throw new Error(`tensor ${name}: dtype ${t.dtype} does not match its ${t.data.constructor.name}`);
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`tensor ${name}: shape [${t.shape.join(', ')}] holds ${n} elements but the data has ${t.data.length}`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  const jsonBytes = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - (jsonBytes % 8)) % 8);
  const headerLen = Buffer.byteLength(json, 'utf8');
  const out = Buffer.alloc(8 + headerLen + offset);
  out.writeBigUInt64LE(BigInt(headerLen), 0);
  out.write(json, 8, 'utf8');
  let pos = 8 + headerLen;
  for (const name of names) {
    const d = tensors[name]!.data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), pos);
    pos += d.byteLength;
  }
  return out;
}

export interface Safetensors {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

/**
 * The JSON header of a safetensors file of `size` bytes, from `head`, its first bytes (all of the
 * header: 8 + N of them, fewer only when the file is too short to hold it), and where the data start.
 */
function parseHeader(head: Uint8Array, size: number): { header: Record<string, unknown>; base: number } {
  if (size < 8) throw new Error(`not a safetensors file: ${size} bytes is shorter than the 8-byte header length`);
  const n = Number(new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true));
  if (8 + n > size) throw new Error(`not a safetensors file: header length ${n} runs past the end (${size} bytes)`);
  try {
    return { header: JSON.parse(Buffer.from(head.buffer, head.byteOffset + 8, n).toString('utf8')) as Record<string, unknown>, base: 8 + n };
  } catch (e) {
    throw new Error(`not a safetensors file: header is not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}

/** Parse safetensors bytes. Tensor data are views into `bytes` when aligned, copies otherwise. */
export function decodeSafetensors(bytes: Uint8Array): Safetensors {
  const { header, base } = parseHeader(bytes, bytes.byteLength);
  const tensors: Record<string, Tensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (!(e.dtype in BYTES)) throw new Error(`tensor ${name}: unsupported dtype ${e.dtype} (this reader knows U8, I32, F32, I64)`);
    const dtype = e.dtype as Dtype;
    const [b, end] = e.data_offsets;
    const count = e.shape.reduce((a, c) => a * c, 1);
    if (end - b !== count * BYTES[dtype] || base + end > bytes.byteLength) throw new Error(`tensor ${name}: data_offsets [${b}, ${end}] do not fit its shape or the file`);
    tensors[name] = { dtype, shape: e.shape, data: typedView(dtype, bytes, base + b, count) };
  }
  return { tensors, metadata };
}

/**
 * The string metadata of a safetensors file, reading only its header (a dataset shard's episode
 * list without its frames).
 */
export function readSafetensorsMetadata(file: string): Record<string, string> {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const len = Buffer.alloc(8);
    readSync(fd, len, 0, Math.min(8, size), 0);
    // The header's bytes when the file can hold them; else the 8 length bytes, which parseHeader refuses.
    const n = size >= 8 ? Number(len.readBigUInt64LE(0)) : 0;
    const head = 8 + n <= size ? Buffer.alloc(8 + n) : len;
    if (head !== len) {
      len.copy(head);
      readSync(fd, head, 8, n, 8);
    }
    return (parseHeader(head, size).header['__metadata__'] ?? {}) as Record<string, string>;
  } catch (e) {
    throw new Error(`${file}: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    closeSync(fd);
  }
}

function typedView(dtype: Dtype, bytes: Uint8Array, at: number, count: number): TensorData {
  const abs = bytes.byteOffset + at;
  const size = BYTES[dtype];
  // Views need aligned offsets; copy the bytes out when the file buffer is not aligned.
  const src = abs % size === 0 ? bytes.buffer : bytes.slice(at, at + count * size).buffer;
  const off = abs % size === 0 ? abs : 0;
  switch (dtype) {
    case 'U8': return new Uint8Array(src, off, count);
    case 'I32': return new Int32Array(src, off, count);
    case 'F32': return new Float32Array(src, off, count);
    case 'I64': return new BigInt64Array(src, off, count);
  }
}
