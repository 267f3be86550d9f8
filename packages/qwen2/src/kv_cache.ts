// Keys and values of every layer for the tokens seen so far, so a decoding step only runs the
// new tokens. Stored keys are already rotated (RoPE is applied before caching, as in HF).
import { F, keep, type Tensor } from '@reconvla/core';

export class KVCache {
  private readonly keys: (Tensor | null)[];
  private readonly values: (Tensor | null)[];

  constructor(readonly numLayers: number) {
    this.keys = new Array<Tensor | null>(numLayers).fill(null);
    this.values = new Array<Tensor | null>(numLayers).fill(null);
  }

  /** Tokens cached so far (the position of the next token). */
  get length(): number { return this.keys[0]?.shape[2] ?? 0; }

  /**
   * Appends k, v [B, Hkv, T, D] for a layer and returns the full cached k, v. The cache owns
   * its tensors (kept out of tidy scopes) and frees the previous ones.
   */
  append(layer: number, k: Tensor, v: Tensor): { k: Tensor; v: Tensor } {
    const pk = this.keys[layer], pv = this.values[layer];
    const nk = keep(pk ? F.concat([pk, k], 2) : F.add(k, 0));
    const nv = keep(pv ? F.concat([pv, v], 2) : F.add(v, 0));
    pk?.dispose();
    pv?.dispose();
    this.keys[layer] = nk;
    this.values[layer] = nv;
    return { k: nk, v: nv };
  }

  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t?.dispose();
    this.keys.fill(null);
    this.values.fill(null);
  }
}
