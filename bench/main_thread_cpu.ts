// CPU time of the main (JS) thread alone. process.cpuUsage() counts every thread of the
// process, and lavapipe's rasteriser threads live in it, so it cannot tell whether the JS
// thread is busy-polling; /proc/self/task/<pid>/stat can (Linux only; null elsewhere).
import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

export function mainThreadCpuMs(): number | null {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}
