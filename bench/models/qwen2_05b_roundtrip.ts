// Save + reload a randomly initialised Qwen2-0.5B-sized model (the real config: 494M parameters)
// as BF16 safetensors shards, and check every reloaded weight is exactly its BF16 rounding.
// Prints the time and peak RSS of each phase.
//   node --import tsx bench/models/qwen2_05b_roundtrip.ts [--backend cpu|webgpu] [--dir DIR] [--shard-mb 500] [--keep] [--no-write]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createBackend, Generator, type Backend } from '@reconvla/core';
import { parseQwen2Config, Qwen2ForCausalLM } from '@reconvla/qwen2';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string): string => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1]! : fallback; };
const backendName = arg('backend', 'cpu') as 'cpu' | 'webgpu';
const dir = arg('dir', path.join(os.tmpdir(), 'reconvla-qwen2-0.5b-bf16'));
const shardBytes = Number(arg('shard-mb', '500')) * 1e6;
const configPath = new URL('../../packages/qwen2/test/fixtures/Qwen2-0.5B/config.json', import.meta.url);

const gib = (b: number): string => `${(b / 2 ** 30).toFixed(2)} GiB`;
/** Peak resident set size of this process so far (the kernel's maxrss). */
const peakRss = (): number => process.resourceUsage().maxRSS * 1024;

const rows: [string, string, string, string][] = [];
async function phase<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
  const t0 = process.hrtime.bigint();
  const out = await fn();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  rows.push([name, `${s.toFixed(1)} s`, gib(process.memoryUsage().rss), gib(peakRss())]);
  console.log(`${name}: ${s.toFixed(1)} s, rss ${gib(process.memoryUsage().rss)}, peak ${gib(peakRss())}`);
  return out;
}

/** The BF16 value of x (round to nearest even), as a float32. */
function bf16Round(x: Float32Array): Float32Array {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length), out = new Uint32Array(x.length);
  for (let i = 0; i < u.length; i++) {
    const b = u[i]!;
    out[i] = ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) ? (b | 0x400000) & 0xffff0000 : ((b + 0x7fff + ((b >>> 16) & 1)) >>> 0) & 0xffff0000;
  }
  return new Float32Array(out.buffer);
}

async function main(): Promise<void> {
  const backend: Backend = await createBackend(backendName);
  console.log(`backend: ${backend.info().summary}; dir ${dir}`);
  fs.rmSync(dir, { recursive: true, force: true });
  const config = parseQwen2Config(JSON.parse(fs.readFileSync(configPath, 'utf8')));
  const model = await phase('init (random, f32)', async () => { const m = new Qwen2ForCausalLM(config, { backend, generator: new Generator(0) }); await backend.sync(); return m; });
  const params = model.parameters().reduce((s, p) => s + p.size, 0);
  console.log(`parameters: ${params.toLocaleString('en-US')}`);
  const shards = await phase('savePretrained (BF16 shards)', () => model.savePretrained(dir, { floatDtype: 'BF16', maxShardBytes: shardBytes }));
  const bytes = shards.reduce((s, f) => s + fs.statSync(f).size, 0);
  console.log(`${shards.length} shards, ${gib(bytes)}`);
  const back = await phase('fromPretrained (BF16 -> f32)', async () => { const m = Qwen2ForCausalLM.fromPretrained(dir, { backend }); await backend.sync(); return m; });
  await phase('verify (every weight == bf16(original))', async () => {
    const got = back.stateDict();
    for (const [k, t] of model.stateDict()) {
      const want = bf16Round((await t.data()) as Float32Array), have = (await got.get(k)!.data()) as Float32Array;
      for (let i = 0; i < want.length; i++) {
        if (want[i] !== have[i] && !(Number.isNaN(want[i]) && Number.isNaN(have[i]))) throw new Error(`${k}[${i}]: reloaded ${have[i]}, expected bf16 ${want[i]}`);
      }
    }
  });
  model.dispose(); back.dispose();
  if (!args.includes('--keep')) fs.rmSync(dir, { recursive: true, force: true });
  const md = [`Qwen2-0.5B-sized BF16 round trip on ${backend.name} (${params.toLocaleString('en-US')} parameters, ${shards.length} shards of <= ${shardBytes / 1e6} MB, ${gib(bytes)} on disk), ${new Date().toISOString().slice(0, 10)}:`, '',
    '| phase | time | RSS after | peak RSS so far |', '|---|---:|---:|---:|', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
  console.log(`\n${md}`);
  // bench/models/forward.ts copies this into RESULTS.md.
  if (!args.includes('--no-write')) fs.writeFileSync(new URL(`./roundtrip_${backend.name}.md`, import.meta.url), `${md}\n`);
}

await main();
