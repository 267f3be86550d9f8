// A small WebAssembly binary emitter: LEB128, the type/import/function/export/code sections,
// and instructions as expression builders. An expression is a flat byte array (`Code`) that
// leaves its value on the operand stack, so kernels read like nested calls:
//   set(acc, f32x4.add(get(acc), v128.load(get(p))))
// Only what the kernels use is here; every module imports one shared memory as env.memory.

export type Code = number[];
export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128';

const VALTYPE: Record<ValType, number> = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b };

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

export function sleb(n: number): number[] {
  // n is a 32-bit (or smaller) signed integer.
  const out: number[] = [];
  n |= 0;
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) { out.push(byte); return out; }
    out.push(byte | 0x80);
  }
}

/** Concatenates code fragments. */
export function cat(...parts: Code[]): Code {
  const out: number[] = [];
  for (const p of parts) for (const b of p) out.push(b);
  return out;
}

const vec = (items: number[][]): number[] => cat(uleb(items.length), ...items);
const utf8 = (s: string): number[] => { const b = [...Buffer.from(s, 'utf8')]; return [...uleb(b.length), ...b]; };

// --- locals -------------------------------------------------------------------------------

export interface Local { readonly index: number; readonly type: ValType }

export const get = (l: Local): Code => [0x20, ...uleb(l.index)];
export const set = (l: Local, v: Code): Code => [...v, 0x21, ...uleb(l.index)];
export const tee = (l: Local, v: Code): Code => [...v, 0x22, ...uleb(l.index)];

// --- control --------------------------------------------------------------------------------

const VOID = 0x40;
export const block = (...body: Code[]): Code => [0x02, VOID, ...cat(...body), 0x0b];
export const loop = (...body: Code[]): Code => [0x03, VOID, ...cat(...body), 0x0b];
export const br = (depth: number): Code => [0x0c, ...uleb(depth)];
export const brIf = (depth: number, cond: Code): Code => [...cond, 0x0d, ...uleb(depth)];
export const ifThen = (cond: Code, then: Code[], otherwise?: Code[]): Code =>
  otherwise ? [...cond, 0x04, VOID, ...cat(...then), 0x05, ...cat(...otherwise), 0x0b] : [...cond, 0x04, VOID, ...cat(...then), 0x0b];
/** A value-producing select: cond ? a : b (both evaluated). */
export const select = (a: Code, b: Code, cond: Code): Code => [...a, ...b, ...cond, 0x1b];
export const call = (fn: FuncRef, ...args: Code[]): Code => [...cat(...args), 0x10, ...uleb(fn.index)];
export const ret = (): Code => [0x0f];

/** for (i = from; i < to; i += step) body  (signed compare; `to` is re-evaluated each time). */
export function forRange(i: Local, from: Code, to: Code, step: number | Code, ...body: Code[]): Code {
  const inc = typeof step === 'number' ? i32.const(step) : step;
  return cat(set(i, from), block(loop(brIf(1, i32.ge_s(get(i), to)), ...body, set(i, i32.add(get(i), inc)), br(0))));
}

// --- numeric instructions -----------------------------------------------------------------

const bin = (op: number) => (a: Code, b: Code): Code => [...a, ...b, op];
const un = (op: number) => (a: Code): Code => [...a, op];
const memarg = (align: number, offset: number): number[] => [align, ...uleb(offset)];

export const i32 = {
  const: (n: number): Code => [0x41, ...sleb(n)],
  add: bin(0x6a), sub: bin(0x6b), mul: bin(0x6c), div_s: bin(0x6d), div_u: bin(0x6e), rem_s: bin(0x6f),
  and: bin(0x71), or: bin(0x72), shl: bin(0x74), shr_s: bin(0x75), shr_u: bin(0x76),
  eqz: un(0x45), eq: bin(0x46), ne: bin(0x47), lt_s: bin(0x48), lt_u: bin(0x49), gt_s: bin(0x4a), le_s: bin(0x4c), ge_s: bin(0x4e),
  load: (addr: Code, offset = 0): Code => [...addr, 0x28, ...memarg(2, offset)],
  store: (addr: Code, v: Code, offset = 0): Code => [...addr, ...v, 0x36, ...memarg(2, offset)],
  trunc_f32_s: un(0xa8), reinterpret_f32: un(0xbc),
  min_s: (a: Code, b: Code, ta: Local, tb: Local): Code => select(tee(ta, a), tee(tb, b), i32.lt_s(get(ta), get(tb))),
};

export const f32 = {
  const: (x: number): Code => { const b = new Uint8Array(new Float32Array([x]).buffer); return [0x43, ...b]; },
  add: bin(0x92), sub: bin(0x93), mul: bin(0x94), div: bin(0x95), min: bin(0x96), max: bin(0x97),
  abs: un(0x8b), neg: un(0x8c), sqrt: un(0x91),
  eq: bin(0x5b), ne: bin(0x5c), lt: bin(0x5d), gt: bin(0x5e), le: bin(0x5f), ge: bin(0x60),
  load: (addr: Code, offset = 0): Code => [...addr, 0x2a, ...memarg(2, offset)],
  store: (addr: Code, v: Code, offset = 0): Code => [...addr, ...v, 0x38, ...memarg(2, offset)],
  convert_i32_s: un(0xb2), reinterpret_i32: un(0xbe), demote_f64: un(0xb6),
};

export const f64 = {
  promote_f32: un(0xbb), add: bin(0xa0), sub: bin(0xa1), mul: bin(0xa2), div: bin(0xa3), sqrt: un(0x9f),
  const: (x: number): Code => { const b = new Uint8Array(new Float64Array([x]).buffer); return [0x44, ...b]; },
};

// SIMD: prefix 0xfd, then the opcode as u32 LEB128.
const simd = (op: number): number[] => [0xfd, ...uleb(op)];
const sbin = (op: number) => (a: Code, b: Code): Code => [...a, ...b, ...simd(op)];
const sun = (op: number) => (a: Code): Code => [...a, ...simd(op)];

export const v128 = {
  load: (addr: Code, offset = 0): Code => [...addr, ...simd(0x00), ...memarg(4, offset)],
  /** Loads one f32/i32 and splats it to all four lanes. */
  load32_splat: (addr: Code, offset = 0): Code => [...addr, ...simd(0x09), ...memarg(2, offset)],
  store: (addr: Code, v: Code, offset = 0): Code => [...addr, ...v, ...simd(0x0b), ...memarg(4, offset)],
  zero: (): Code => [...simd(0x0c), ...new Array<number>(16).fill(0)],
  not: sun(0x4d), and: sbin(0x4e), andnot: sbin(0x4f), or: sbin(0x50), xor: sbin(0x51),
  bitselect: (a: Code, b: Code, mask: Code): Code => [...a, ...b, ...mask, ...simd(0x52)],
  /** 1 when any bit of v is set (i32). */
  any_true: sun(0x53),
};

export const f32x4 = {
  splat: sun(0x13),
  extract_lane: (v: Code, lane: number): Code => [...v, ...simd(0x1f), lane],
  eq: sbin(0x41), ne: sbin(0x42), lt: sbin(0x43), gt: sbin(0x44), le: sbin(0x45), ge: sbin(0x46),
  floor: sun(0x68), nearest: sun(0x6a),
  abs: sun(0xe0), neg: sun(0xe1), sqrt: sun(0xe3),
  add: sbin(0xe4), sub: sbin(0xe5), mul: sbin(0xe6), div: sbin(0xe7),
  /** IEEE-strict min/max (NaN and -0 aware): about seven x64 instructions each. */
  min: sbin(0xe8), max: sbin(0xe9),
  /** Pseudo min/max, b < a ? b : a and a < b ? b : a: one minps/maxps. */
  pmin: sbin(0xea), pmax: sbin(0xeb),
  convert_i32x4_s: sun(0xfa),
  /** Relaxed SIMD a*b+c (fused or not, at the engine's choice). */
  relaxed_madd: (a: Code, b: Code, c: Code): Code => [...a, ...b, ...c, ...simd(0x105)],
};

export const i32x4 = {
  splat: sun(0x11), add: sbin(0xae), sub: sbin(0xb1), shl: (a: Code, n: Code): Code => [...a, ...n, ...simd(0xab)],
  trunc_sat_f32x4_s: sun(0xf8),
};

/** memory.fill(dst, byte, n) and memory.copy(dst, src, n) from bulk memory. */
export const memory = {
  fill: (dst: Code, byte: Code, n: Code): Code => [...dst, ...byte, ...n, 0xfc, 0x0b, 0x00],
  copy: (dst: Code, src: Code, n: Code): Code => [...dst, ...src, ...n, 0xfc, 0x0a, 0x00, 0x00],
};

// --- functions and modules ----------------------------------------------------------------

export interface FuncRef { readonly index: number; readonly name: string }

/** A function under construction: named params in order, then locals added on demand. */
export class Func<P extends Record<string, ValType>> implements FuncRef {
  readonly p: { [K in keyof P]: Local };
  private readonly paramTypes: ValType[];
  private readonly localTypes: ValType[] = [];
  body: Code = [];
  /** Code run before `body` (hoisted constants). */
  readonly prologue: Code[] = [];

  constructor(readonly index: number, readonly name: string, params: P, readonly result: ValType | undefined, readonly exported: boolean) {
    this.paramTypes = Object.values(params);
    const p: Record<string, Local> = {};
    Object.keys(params).forEach((k, i) => { p[k] = { index: i, type: params[k]! }; });
    this.p = p as { [K in keyof P]: Local };
  }

  local(type: ValType): Local {
    this.localTypes.push(type);
    return { index: this.paramTypes.length + this.localTypes.length - 1, type };
  }
  locals(type: ValType, n: number): Local[] { return Array.from({ length: n }, () => this.local(type)); }

  signature(): number[] {
    return [0x60, ...vec(this.paramTypes.map((t) => [VALTYPE[t]])), ...vec(this.result ? [[VALTYPE[this.result]]] : [])];
  }
  encodeBody(): number[] {
    const decl = vec(this.localTypes.map((t) => [1, VALTYPE[t]]));
    const code = [...decl, ...cat(...this.prologue), ...this.body, 0x0b];
    return [...uleb(code.length), ...code];
  }
}

export interface MemoryLimits { initialPages: number; maximumPages: number }

interface FuncImport extends FuncRef { params: ValType[]; result: ValType | undefined }

/** Host functions every kernel module may import from env (workers provide the same). */
export const HOST_FUNCTIONS = { log: Math.log, exp: Math.exp } as const;

export class ModuleBuilder {
  private readonly funcs: Func<Record<string, ValType>>[] = [];
  private readonly imports: FuncImport[] = [];

  /** Imports env[name] (one of HOST_FUNCTIONS); declare imports before any function. */
  importFunc(name: keyof typeof HOST_FUNCTIONS, params: ValType[], result?: ValType): FuncRef {
    if (this.funcs.length > 0) throw new Error('emitter: declare imports before functions');
    const f = { index: this.imports.length, name, params, result };
    this.imports.push(f);
    return f;
  }

  /** Declares a function (its index is fixed now, so others can call it); fill in `body` later. */
  func<P extends Record<string, ValType>>(name: string, params: P, result?: ValType, exported = true): Func<P> {
    const f = new Func(this.imports.length + this.funcs.length, name, params, result, exported);
    this.funcs.push(f as unknown as Func<Record<string, ValType>>);
    return f;
  }

  /** The binary, importing a shared memory env.memory with the given limits. */
  encode(mem: MemoryLimits): Uint8Array {
    const section = (id: number, content: number[]): number[] => [id, ...uleb(content.length), ...content];
    const sigs: string[] = [], sigBytes: number[][] = [];
    const sigIndex = (s: number[]): number => {
      const key = s.join(',');
      let i = sigs.indexOf(key);
      if (i < 0) { i = sigs.length; sigs.push(key); sigBytes.push(s); }
      return i;
    };
    const importSig = (f: FuncImport) => [0x60, ...vec(f.params.map((t) => [VALTYPE[t]])), ...vec(f.result ? [[VALTYPE[f.result]]] : [])];
    const fnImports = this.imports.map((f) => [...utf8('env'), ...utf8(f.name), 0x00, ...uleb(sigIndex(importSig(f)))]);
    const funcSig = this.funcs.map((f) => sigIndex(f.signature()));
    const memImport = [...utf8('env'), ...utf8('memory'), 0x02, 0x03, ...uleb(mem.initialPages), ...uleb(mem.maximumPages)];
    const exports = this.funcs.filter((f) => f.exported).map((f) => [...utf8(f.name), 0x00, ...uleb(f.index)]);
    const bytes = [
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
      ...section(1, vec(sigBytes)),
      ...section(2, vec([memImport, ...fnImports])),
      ...section(3, vec(funcSig.map((i) => uleb(i)))),
      ...section(7, vec(exports)),
      ...section(10, vec(this.funcs.map((f) => f.encodeBody()))),
    ];
    return Uint8Array.from(bytes);
  }
}
