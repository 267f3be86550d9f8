// Stands in for Node built-ins (node:fs, node:os, ...) and Node-only packages (webgpu = Dawn,
// pngjs) in the browser bundle: the packages import them at the top of files the page never
// calls into (file I/O, PNG encoding, Dawn). Importing works; calling anything throws, naming it.
// The few values read at import time get browser answers.
const known = {
  endianness: () => 'LE',
  availableParallelism: () => globalThis.navigator?.hardwareConcurrency ?? 1,
  cpus: () => Array.from({ length: globalThis.navigator?.hardwareConcurrency ?? 1 }, () => ({})),
  platform: () => 'browser',
  tmpdir: () => '/tmp',
  sep: '/',
};
const stub = new Proxy(function () {}, {
  get(_target, name) {
    if (name === '__esModule') return false;
    if (name === 'default') return stub;
    if (typeof name === 'string' && name in known) return known[name];
    if (typeof name === 'symbol') return undefined;
    return function unavailable() { throw new Error(`${String(name)} is not available in the browser (a Node-only API)`); };
  },
  apply() { throw new Error('a Node-only API was called in the browser'); },
  construct() { throw new Error('a Node-only API was constructed in the browser'); },
});
module.exports = stub;
