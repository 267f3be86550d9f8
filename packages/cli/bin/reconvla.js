#!/usr/bin/env node
// The `reconvla` command. The project runs TypeScript sources directly through tsx,
// so this shim registers tsx's ESM loader and hands over to src/main.ts.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv);
