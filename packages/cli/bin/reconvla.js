#!/usr/bin/env node
// The `reconvla` command. In the workspace it runs the TypeScript sources through tsx, with the
// workspace's tsconfig.json (its paths send every @reconvla/* import to the sources, from any
// working directory); an installed package (npm pack) runs the built dist/ with plain node.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const tsconfig = fileURLToPath(new URL('../../../tsconfig.json', import.meta.url));
const fromSources = existsSync(fileURLToPath(new URL('../src/main.ts', import.meta.url))) && existsSync(tsconfig);
let main;
if (fromSources) {
  const { register } = await import('tsx/esm/api');
  register({ tsconfig });
  ({ main } = await import('../src/main.ts'));
} else {
  ({ main } = await import('../dist/main.js'));
}
process.exitCode = await main(process.argv);
