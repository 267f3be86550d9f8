// A full garbage collection, to release dawn.node objects that only the JS heap still holds.
//
// Why: on lavapipe every live bind group owns a descriptor set with its own memory mapping
// (memfd), and Dawn recycles a set only once the bind group's JS wrapper is finalized. V8 cannot
// see that native cost, so bind groups dropped from the runtime's cache could pile up for
// minutes; past vm.max_map_count (65,530 here) lavapipe's next descriptor-pool allocation got
// no memory and the process died with SIGSEGV (the WebGPU demo, ~6 minutes in). The runtime calls
// this when it drops its bind-group cache.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | null | undefined;

/** Runs a full GC; a no-op where the engine offers no way to ask for one. */
export function collectGarbage(): void {
  if (gc === undefined) {
    const g = (globalThis as { gc?: () => void }).gc;
    if (typeof g === 'function') gc = g;
    else {
      try {
        // Node's documented flag, set at run time; the function is read from a fresh context.
        setFlagsFromString('--expose-gc');
        gc = runInNewContext('gc') as () => void;
      } catch {
        gc = null;
      }
    }
  }
  gc?.();
}
