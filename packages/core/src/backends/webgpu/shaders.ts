// Loads WGSL kernel sources from the repo's shaders/ folder and specialises them.
//
// Run-time knobs are WGSL `override` constants (passed to the pipeline). Two things overrides
// cannot express are rewritten in the text instead, keeping every file valid WGSL on its own:
//   `alias NAME = f32;`  element types (f32 / i32 variants of one kernel),
//   `const NAME = 4u;`   sizes of private arrays (register tiles), which must be constant.
// WGSL has no includes either: a file whose first line is `// prelude: a, b` is compiled after
// a.wgsl and b.wgsl (declarations shared by several kernels, e.g. activation.wgsl), so every
// file stays valid WGSL once its preludes are in front of it.
// Generated kernels (fusion.ts) splice text between `// BEGIN name` and `// END name` lines.
// An alias set to f16 (a kernel reading float16 storage natively) also adds `enable f16;`.
import { readFileSync } from 'node:fs';

// The sources run from the repo's shaders/; the built package (dist/*.js) carries its own copy
// in packages/core/shaders/ (scripts/build.sh), since a package cannot ship files above it.
const SHADER_DIR = new URL(import.meta.url.endsWith('.js') ? '../../../shaders/' : '../../../../../shaders/', import.meta.url);
const sources = new Map<string, string>();

const PRELUDE = /^\/\/ prelude: ([\w, ]+)\n/;

/** The source of shaders/<file>.wgsl with its preludes prepended. */
export function shaderSource(file: string): string {
  let src = sources.get(file);
  if (src === undefined) {
    src = readFileSync(new URL(`${file}.wgsl`, SHADER_DIR), 'utf8');
    const preludes = PRELUDE.exec(src)?.[1]!.split(',').map((s) => s.trim()).filter((s) => s.length > 0) ?? [];
    // (Compile errors count lines of the joined text; the markers say where each file starts.)
    if (preludes.length > 0) src = [...preludes.map((p) => `// ---- ${p}.wgsl\n${shaderSource(p)}`), `// ---- ${file}.wgsl\n${src}`].join('\n');
    sources.set(file, src);
  }
  return src;
}

/** Replaces `alias K = ...;` and `const K = ...;` declarations by the given values. */
export function specialise(src: string, subst: Readonly<Record<string, string>>): string {
  let out = src;
  for (const [name, value] of Object.entries(subst)) {
    const re = new RegExp(`^(\\s*)(alias|const) ${name}(\\s*:\\s*\\w+)? = [^;]+;`, 'm');
    if (!re.test(out)) throw new Error(`shader specialisation: no 'alias/const ${name}' declaration to replace`);
    out = out.replace(re, (_m, ws: string, kw: string, ty: string | undefined) => `${ws}${kw} ${name}${ty ?? ''} = ${value};`);
  }
  if (Object.values(subst).includes('f16')) out = `enable f16;\n${out}`;
  return out;
}

function sectionBounds(src: string, file: string, name: string): [number, number] {
  const begin = src.indexOf(`// BEGIN ${name}`), end = src.indexOf(`// END ${name}`);
  if (begin < 0 || end < begin) throw new Error(`shader ${file}.wgsl: no '// BEGIN ${name}' ... '// END ${name}' section`);
  return [src.indexOf('\n', begin) + 1, end];
}

/** The text between the `// BEGIN name` and `// END name` lines of shaders/<file>.wgsl. */
export function shaderSection(file: string, name: string): string {
  const src = shaderSource(file);
  const [a, b] = sectionBounds(src, file, name);
  return src.slice(a, b);
}

/** `src` with the lines between `// BEGIN name` and `// END name` replaced by `text`. */
export function replaceSection(src: string, file: string, name: string, text: string): string {
  const [a, b] = sectionBounds(src, file, name);
  const indent = /[ \t]*$/.exec(src.slice(0, b))![0];
  return src.slice(0, a) + text + indent + src.slice(b);
}
