// SafetensorsFile: one .safetensors file, opened by reading and validating only its header.
//
// The file descriptor stays open, and each tensor is read on demand with a positioned read
// of exactly its byte range, so opening a multi-GB checkpoint costs a few KB of I/O and
// loading one tensor never touches the others.

import * as fs from 'node:fs';
import { SafetensorsError, tensorLabel } from './errors.ts';
import { isDtype, type SafetensorsDtype } from './dtypes.ts';
import { DEFAULT_MAX_HEADER_BYTES, parseHeader, parseHeaderLength, type ParsedHeader, type TensorInfo } from './header.ts';
import { decodeBigInt64, decodeFloat32, decodeFloat64, decodeInt32 } from './decode.ts';
import { unknownTensorError, type TensorSource } from './source.ts';

export interface OpenOptions {
  /** Refuse headers longer than this many bytes (default 100 MB). */
  maxHeaderBytes?: number;
}

// readSync takes at most 2^31 - 1 bytes per call, so big tensors are read in chunks.
const MAX_READ_CHUNK = 1 << 30;

/** Fills `buf` from `position`, or throws if the file ends first. */
function readExactly(path: string, fd: number, buf: Uint8Array, position: number, what: string): void {
  let done = 0;
  while (done < buf.byteLength) {
    const want = Math.min(buf.byteLength - done, MAX_READ_CHUNK);
    let got: number;
    try {
      got = fs.readSync(fd, buf, done, want, position + done);
    } catch (err) {
      throw new SafetensorsError(path, `cannot read ${what}: ${(err as Error).message}`, { cause: err });
    }
    if (got === 0) {
      throw new SafetensorsError(path, `file ends after ${position + done} bytes while reading ${what} (truncated, or changed since it was opened)`);
    }
    done += got;
  }
}

export class SafetensorsFile implements TensorSource {
  readonly path: string;
  readonly metadata: Record<string, string>;
  private fd: number | undefined;
  private readonly tensors: Map<string, TensorInfo>;

  private constructor(path: string, fd: number, header: ParsedHeader) {
    this.path = path;
    this.fd = fd;
    this.tensors = header.tensors;
    this.metadata = header.metadata;
  }

  /** Opens `path`, reads and validates its header, and keeps the file open for reads. */
  static open(path: string, options: OpenOptions = {}): SafetensorsFile {
    const maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
    let fd: number;
    try {
      fd = fs.openSync(path, 'r');
    } catch (err) {
      throw new SafetensorsError(path, `cannot open: ${(err as Error).message}`, { cause: err });
    }
    try {
      const stat = fs.fstatSync(fd);
      if (!stat.isFile()) throw new SafetensorsError(path, 'not a regular file');
      const prefix = new Uint8Array(8);
      if (stat.size >= 8) readExactly(path, fd, prefix, 0, 'the header length');
      const n = parseHeaderLength(path, prefix, stat.size, maxHeaderBytes);
      const headerBytes = new Uint8Array(n);
      readExactly(path, fd, headerBytes, 8, 'the header');
      return new SafetensorsFile(path, fd, parseHeader(path, headerBytes, stat.size));
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  /** Tensor names in header order. */
  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (info === undefined) throw unknownTensorError(this.path, name, this.names());
    return { ...info, shape: [...info.shape] };
  }

  readBytes(name: string): Uint8Array {
    const info = this.info(name);
    if (this.fd === undefined) throw new SafetensorsError(this.path, `cannot read tensor ${JSON.stringify(name)}: file is closed`);
    // A fresh, unshared buffer: the decoders may view it in place and hand it to the caller.
    const bytes = new Uint8Array(info.byteLength);
    readExactly(this.path, this.fd, bytes, info.byteOffset, `tensor ${JSON.stringify(name)}`);
    return bytes;
  }

  /** The tensor's dtype when this package can decode it; FP8, F4, F6 and C64 read only as bytes. */
  private decodable(name: string): SafetensorsDtype {
    const dtype = this.info(name).dtype;
    if (!isDtype(dtype)) {
      throw new SafetensorsError(this.path, `${tensorLabel(name)}: dtype ${dtype} is valid, but this reader does not convert it to numbers (readBytes gives its raw bytes)`);
    }
    return dtype;
  }

  readFloat32(name: string): Float32Array {
    const dtype = this.decodable(name);
    return decodeFloat32(this.readBytes(name), dtype);
  }

  readFloat64(name: string): Float64Array {
    const dtype = this.decodable(name);
    return decodeFloat64(this.readBytes(name), dtype, { path: this.path, name });
  }

  readInt32(name: string): Int32Array {
    const dtype = this.decodable(name);
    return decodeInt32(this.readBytes(name), dtype, { path: this.path, name });
  }

  readBigInt64(name: string): BigInt64Array {
    const dtype = this.decodable(name);
    return decodeBigInt64(this.readBytes(name), dtype, { path: this.path, name });
  }

  close(): void {
    if (this.fd !== undefined) {
      const fd = this.fd;
      this.fd = undefined;
      fs.closeSync(fd);
    }
  }
}
