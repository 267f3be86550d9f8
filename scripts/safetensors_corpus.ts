// Writes the crafted safetensors corpus (packages/core/test/safetensors_corpus.ts) as files, one
// NAME.safetensors per case, and expected.tsv (name, upstream outcome), so that any reader can be
// run on it: the Rust crate's SafeTensors::deserialize, the Python package, or this repository's.
//   node --import tsx scripts/safetensors_corpus.ts OUT_DIR
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CORPUS } from '../packages/core/test/safetensors_corpus.ts';

const out = process.argv[2];
if (!out) { console.error('usage: safetensors_corpus.ts OUT_DIR'); process.exit(2); }
fs.mkdirSync(out, { recursive: true });
for (const c of CORPUS) fs.writeFileSync(path.join(out, `${c.name}.safetensors`), c.bytes);
fs.writeFileSync(path.join(out, 'expected.tsv'), CORPUS.map((c) => `${c.name}\t${c.upstream}`).join('\n') + '\n');
console.log(`${out}: ${CORPUS.length} files`);
