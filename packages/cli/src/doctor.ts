// `reconvla doctor`: what this machine offers (Node, backends, adapters) and how to fix what is missing.
import type { Command } from 'commander';
import { describeBackends } from '@reconvla/core';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('report the Node version, the backends found and their limits, or why one is missing')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { json?: boolean }) => {
      const report = { node: process.version, platform: `${process.platform}-${process.arch}`, backends: await describeBackends() };
      if (opts.json) {
        console.log(JSON.stringify(report, null, 2));
        return;
      }
      console.log(`node      ${report.node} (${report.platform})`);
      for (const b of report.backends) {
        console.log(`backend   ${b.name.padEnd(8)} ${b.available ? 'available' : 'missing'}${b.summary ? `  ${b.summary}` : ''}`);
        for (const [k, v] of Object.entries(b.details ?? {})) console.log(`            ${k}: ${v}`);
        if (!b.available && b.fix) console.log(`            fix: ${b.fix}`);
      }
    });
}
