// Reading a float checkpoint entry as float16 bits, for half-precision storage on upload.
//
// F16 entries are taken as they are; BF16, F32 and F64 entries are rounded to nearest even.
// bfloat16 has float32's exponent range, so a weight may not fit float16 (|x| >= 65520 would
// become inf): that is an error naming the tensor and the value, never a silent inf. NaN and
// infinities in the checkpoint stay what they are; values too small for float16 underflow to
// its subnormals or 0, as PyTorch's .half() does.
import { bf16ToF16, encodeF16 } from '../half.ts';
import { SafetensorsError, tensorLabel } from './errors.ts';
import type { TensorSource } from './source.ts';
import { viewRaw } from './decode.ts';

export function readFloat16Bits(src: TensorSource, name: string): Uint16Array {
  const info = src.info(name);
  const overflow = (value: number, index: number): never => {
    throw new SafetensorsError(src.path, `${tensorLabel(name)}: value ${value} at element ${index} is outside float16's range `
      + '(|x| < 65520); load this tensor as float32');
  };
  switch (info.dtype) {
    case 'F16': return (viewRaw(src.readBytes(name), 'F16') as Uint16Array).slice();
    case 'BF16': {
      const raw = viewRaw(src.readBytes(name), 'BF16') as Uint16Array;
      return bf16ToF16(raw, (i) => overflow(new Float32Array(new Uint32Array([raw[i]! << 16]).buffer)[0]!, i));
    }
    case 'F32': case 'F64': {
      const f = src.readFloat32(name);
      const bits = encodeF16(f);
      for (let i = 0; i < f.length; i++) if ((bits[i]! & 0x7fff) === 0x7c00 && Number.isFinite(f[i]!)) overflow(f[i]!, i);
      return bits;
    }
    default:
      throw new SafetensorsError(src.path, `${tensorLabel(name)}: is ${info.dtype}; float16 storage needs a float dtype (F16, BF16, F32, F64)`);
  }
}
