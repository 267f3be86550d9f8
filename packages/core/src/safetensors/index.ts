// Public API of safetensors I/O. Independent of the Tensor class: everything here deals in
// names, shapes, dtypes and typed arrays.

export { SafetensorsError } from './errors.ts';
export { DTYPE_BITS, DTYPE_SIZES, DTYPES, FILE_DTYPES, dtypeSize, isDtype, isFileDtype, type FileDtype, type SafetensorsDtype } from './dtypes.ts';
export { DEFAULT_MAX_HEADER_BYTES, type TensorInfo } from './header.ts';
export type { TensorSource } from './source.ts';
export { SafetensorsFile, type OpenOptions } from './reader.ts';
export { openCheckpoint, ShardedCheckpoint, INDEX_FILE_NAME, SINGLE_FILE_NAME } from './checkpoint.ts';
export { decodeBigInt64, decodeFloat32, decodeFloat64, decodeInt32, viewRaw, type DecodeContext, type RawTensorArray } from './decode.ts';
export { type TensorData, type TensorToWrite, type TensorsToWrite } from './layout.ts';
export { encodeSafetensors, writeSafetensors } from './writer.ts';
export { readFloat16Bits } from './read_f16.ts';
export { writeJsonAtomic } from './atomic.ts';
export { writeShardedCheckpoint, type ShardedWriteOptions, type ShardedWriteResult } from './sharded_writer.ts';
