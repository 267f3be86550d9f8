// Planning a safetensors file: validating the tensors to write, choosing where each goes,
// and producing their bytes.
//
// Tensors are laid out by decreasing element size, then by name. With an 8-byte-aligned
// data section (the header is space-padded to a multiple of 8) every tensor then starts at a
// multiple of its element size, so readers can view the bytes as typed arrays in place.

import { encodeBf16, encodeF16 } from '../half.ts';
import { SafetensorsError, tensorLabel } from './errors.ts';
import { assertLittleEndianHost, dtypeSize, elementCount, isDtype, type SafetensorsDtype } from './dtypes.ts';
import { show } from './header.ts';
import type { RawTensorArray } from './decode.ts';

/**
 * The data of a tensor to write. A Uint8Array always holds the raw little-endian bytes (for
 * any dtype). Other arrays hold elements and must suit the dtype:
 *   F64: Float64Array | Float32Array      F32: Float32Array
 *   F16, BF16: Uint16Array (bit patterns) | Float32Array (rounded to nearest even)
 *   I64: BigInt64Array | Int32Array       U64: BigUint64Array
 *   I32: Int32Array   U32: Uint32Array   I16: Int16Array   U16: Uint16Array   I8: Int8Array
 *   U8, BOOL: Uint8Array (BOOL values must be 0 or 1)
 */
export type TensorData = RawTensorArray;

export interface TensorToWrite {
  dtype: SafetensorsDtype;
  shape: readonly number[];
  data: TensorData;
}

export type TensorsToWrite = Record<string, TensorToWrite>;

/** One tensor's place in the planned file. */
export interface PlannedTensor {
  name: string;
  tensor: TensorToWrite;
  begin: number;
  byteLength: number;
}

export interface SafetensorsPlan {
  /** Length prefix + JSON header + padding: everything before the data section. */
  header: Uint8Array;
  /** Tensors in file order. */
  tensors: PlannedTensor[];
  /** Total file size in bytes. */
  fileSize: number;
}

/** The element arrays each dtype accepts besides raw bytes (see TensorData). */
const ACCEPTED: Record<SafetensorsDtype, readonly string[]> = {
  F64: ['Float64Array', 'Float32Array'],
  F32: ['Float32Array'],
  F16: ['Uint16Array', 'Float32Array'],
  BF16: ['Uint16Array', 'Float32Array'],
  I64: ['BigInt64Array', 'Int32Array'],
  U64: ['BigUint64Array'],
  I32: ['Int32Array'],
  U32: ['Uint32Array'],
  I16: ['Int16Array'],
  U16: ['Uint16Array'],
  I8: ['Int8Array'],
  U8: ['Uint8Array'],
  BOOL: ['Uint8Array'],
};

function arrayKind(data: TensorData): string {
  // Buffer and other subclasses count as their base array.
  if (data instanceof Uint8Array) return 'Uint8Array';
  return Object.prototype.toString.call(data).slice(8, -1);
}

/** Validates one tensor and returns its size in bytes. */
export function checkTensor(path: string, name: string, tensor: TensorToWrite): number {
  const fail = (problem: string): never => {
    throw new SafetensorsError(path, `${tensorLabel(name)}: ${problem}`);
  };
  if (name === '' || name === '__metadata__') return fail('is not a usable tensor name');
  if (typeof tensor !== 'object' || tensor === null) return fail(`expected {dtype, shape, data}, got ${show(tensor)}`);
  const { dtype, shape, data } = tensor;
  if (!isDtype(dtype)) return fail(`unknown dtype ${show(dtype)}`);
  if (!Array.isArray(shape)) return fail(`shape must be an array, got ${show(shape)}`);
  const count = elementCount(shape);
  if (count === undefined) return fail(`shape must be non-negative integers with a safe-integer product, got ${show(shape)}`);
  const byteLength = count * dtypeSize(dtype);
  if (!ArrayBuffer.isView(data) || data instanceof DataView) return fail(`data must be a typed array, got ${show(data)}`);
  const kind = arrayKind(data);
  if (kind === 'Uint8Array' && dtype !== 'U8' && dtype !== 'BOOL') {
    if (data.byteLength !== byteLength) {
      return fail(`shape ${show(shape)} of ${dtype} needs ${byteLength} bytes but the raw data has ${data.byteLength}`);
    }
    return byteLength;
  }
  if (!ACCEPTED[dtype].includes(kind)) return fail(`${dtype} data must be ${ACCEPTED[dtype].join(' or ')} (or raw bytes in a Uint8Array), got ${kind}`);
  if (data.length !== count) return fail(`shape ${show(shape)} of ${dtype} needs ${count} elements but the ${kind} has ${data.length}`);
  return byteLength;
}

function checkMetadata(path: string, metadata: Record<string, string>): void {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new SafetensorsError(path, `metadata must be an object of strings, got ${show(metadata)}`);
  }
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new SafetensorsError(path, `metadata key ${JSON.stringify(k)} must hold a string, got ${show(v)}`);
  }
}

/** File order: larger elements first (keeps every tensor aligned), then by name. */
function compareForLayout(a: [string, TensorToWrite], b: [string, TensorToWrite]): number {
  const bySize = dtypeSize(b[1].dtype) - dtypeSize(a[1].dtype);
  if (bySize !== 0) return bySize;
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/** Validates everything and lays out the file; produces no tensor bytes yet. */
export function planSafetensors(path: string, tensors: TensorsToWrite, metadata: Record<string, string> = {}): SafetensorsPlan {
  checkMetadata(path, metadata);
  const entries = Object.entries(tensors);
  const sizes = new Map(entries.map(([name, t]) => [name, checkTensor(path, name, t)]));
  entries.sort(compareForLayout);

  // Built by hand rather than JSON.stringify(object) so "__metadata__" comes first and no
  // tensor name can collide with Object.prototype.
  const parts: string[] = [];
  const metaEntries = Object.entries(metadata);
  if (metaEntries.length > 0) {
    parts.push(`"__metadata__":{${metaEntries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);
  }
  const planned: PlannedTensor[] = [];
  let offset = 0;
  for (const [name, tensor] of entries) {
    const byteLength = sizes.get(name)!;
    planned.push({ name, tensor, begin: offset, byteLength });
    parts.push(`${JSON.stringify(name)}:{"dtype":"${tensor.dtype}","shape":[${tensor.shape.join(',')}],"data_offsets":[${offset},${offset + byteLength}]}`);
    offset += byteLength;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const header = new Uint8Array(8 + headerLength).fill(0x20); // pad with spaces
  new DataView(header.buffer).setBigUint64(0, BigInt(headerLength), true);
  header.set(json, 8);
  return { header, tensors: planned, fileSize: header.length + offset };
}

function rawBytes(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * The little-endian bytes of a planned tensor, converting element arrays where the dtype
 * asks for it. Checks value-level rules (BOOL must be 0/1), which planning does not scan for.
 */
export function tensorBytes(path: string, planned: PlannedTensor): Uint8Array {
  assertLittleEndianHost();
  const { name, tensor } = planned;
  const { dtype, data } = tensor;
  const kind = arrayKind(data);
  if (dtype === 'BOOL') {
    const bytes = rawBytes(data);
    const bad = bytes.findIndex((b) => b > 1);
    if (bad >= 0) throw new SafetensorsError(path, `${tensorLabel(name)}: BOOL data must be 0 or 1, but index ${bad} holds ${bytes[bad]}`);
    return bytes;
  }
  if (kind === 'Float32Array' && dtype !== 'F32') {
    const f32 = data as Float32Array;
    if (dtype === 'F16') return rawBytes(encodeF16(f32));
    if (dtype === 'BF16') return rawBytes(encodeBf16(f32));
    if (dtype === 'F64') return rawBytes(new Float64Array(f32));
  }
  if (kind === 'Int32Array' && dtype === 'I64') {
    const i32 = data as Int32Array;
    const out = new BigInt64Array(i32.length);
    for (let i = 0; i < i32.length; i++) out[i] = BigInt(i32[i]);
    return rawBytes(out);
  }
  return rawBytes(data);
}
