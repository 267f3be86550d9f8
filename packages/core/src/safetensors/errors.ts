// The one error type safetensors I/O throws for bad files, bad arguments and bad data.
//
// Callers (checkpoint loaders, the CLI) catch this to report "this checkpoint is broken"
// without masking programming errors, so every failure a file's contents can cause must
// surface as a SafetensorsError and never as a RangeError/SyntaxError from deep inside.

export class SafetensorsError extends Error {
  /** The file the problem is about (a .safetensors file, an index, or a directory). */
  readonly path: string;

  constructor(path: string, problem: string, options?: { cause?: unknown }) {
    super(`${path}: ${problem}`, options);
    this.name = 'SafetensorsError';
    this.path = path;
  }
}

/** Formats a tensor name for messages: `tensor "x.weight"`. */
export function tensorLabel(name: string): string {
  return `tensor ${JSON.stringify(name)}`;
}
