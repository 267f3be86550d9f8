// A flat list of world-space triangles with lit per-vertex colours, ready for any camera.
// Lighting is diffuse only, so it does not depend on the viewer and is done once per frame
// here rather than once per camera.
import type { Mesh } from './mesh.ts';

export interface Light {
  /** Unit vector towards the light. */
  dir: readonly [number, number, number];
  color: readonly [number, number, number];
  ambient: number;
}

export class DrawList {
  pos: Float32Array;
  col: Float32Array;
  /** Outward face normal per triangle (the mean of its vertex normals), for back-face culling. */
  nrm: Float32Array;
  /** Which thing each triangle belongs to (see ID in render.ts); used for gaze boxes. */
  id: Uint8Array;
  /** 0: opaque surface; > 0: shadow that darkens what is under it by this fraction. */
  shade: Float32Array;
  count = 0;

  constructor(capacity = 4096) {
    this.pos = new Float32Array(capacity * 9);
    this.col = new Float32Array(capacity * 9);
    this.nrm = new Float32Array(capacity * 3);
    this.id = new Uint8Array(capacity);
    this.shade = new Float32Array(capacity);
  }

  clear(): void {
    this.count = 0;
  }

  private reserve(n: number): void {
    const need = this.count + n;
    if (need * 9 <= this.pos.length) return;
    const cap = Math.max(need, this.id.length * 2);
    const grow = <T extends Float32Array | Uint8Array>(a: T, per: number, make: (n: number) => T): T => {
      const b = make(cap * per);
      b.set(a);
      return b;
    };
    this.pos = grow(this.pos, 9, (n) => new Float32Array(n));
    this.col = grow(this.col, 9, (n) => new Float32Array(n));
    this.nrm = grow(this.nrm, 3, (n) => new Float32Array(n));
    this.id = grow(this.id, 1, (n) => new Uint8Array(n));
    this.shade = grow(this.shade, 1, (n) => new Float32Array(n));
  }

  /**
   * Add a mesh scaled by (sx, sy, sz), turned by yaw about +z and moved to (tx, ty, tz).
   * `emissive` colours ignore the light (the lit lamp bulb).
   */
  add(mesh: Mesh, tx: number, ty: number, tz: number, yaw: number, sx: number, sy: number, sz: number,
    rgb: readonly [number, number, number], id: number, light: Light, emissive = false): void {
    this.reserve(mesh.count);
    const c = Math.cos(yaw), s = Math.sin(yaw);
    const [lx, ly, lz] = light.dir;
    const P = this.pos, C = this.col, N = this.nrm, mp = mesh.pos, mn = mesh.nrm;
    let t = this.count;
    for (let k = 0; k < mesh.count; k++, t++) {
      this.id[t] = id;
      this.shade[t] = 0;
      N[t * 3] = 0; N[t * 3 + 1] = 0; N[t * 3 + 2] = 0;
      for (let v = 0; v < 3; v++) {
        const i = k * 9 + v * 3, o = t * 9 + v * 3;
        const x = (mp[i] as number) * sx, y = (mp[i + 1] as number) * sy, z = (mp[i + 2] as number) * sz;
        P[o] = tx + c * x - s * y;
        P[o + 1] = ty + s * x + c * y;
        P[o + 2] = tz + z;
        // Normals of a scaled mesh transform by the inverse scale.
        let nx = (mn[i] as number) / sx, ny = (mn[i + 1] as number) / sy, nz = (mn[i + 2] as number) / sz;
        const len = Math.sqrt(nx * nx + ny * ny + nz * nz) || 1;
        nx /= len; ny /= len; nz /= len;
        const wx = c * nx - s * ny, wy = s * nx + c * ny;
        N[t * 3] += wx; N[t * 3 + 1] += wy; N[t * 3 + 2] += nz;
        let k2 = 1;
        if (!emissive) {
          const diffuse = Math.max(0, wx * lx + wy * ly + nz * lz);
          k2 = light.ambient + (1 - light.ambient) * diffuse + 0.06 * nz; // a little sky light from above
        }
        C[o] = Math.min(1, rgb[0] * k2 * (emissive ? 1 : light.color[0]));
        C[o + 1] = Math.min(1, rgb[1] * k2 * (emissive ? 1 : light.color[1]));
        C[o + 2] = Math.min(1, rgb[2] * k2 * (emissive ? 1 : light.color[2]));
      }
    }
    this.count = t;
  }

  /** A shadow disc: darkens the surfaces it lies on by `strength` (0..1). */
  addShadow(mesh: Mesh, x: number, y: number, z: number, radius: number, strength: number): void {
    this.reserve(mesh.count);
    const P = this.pos, mp = mesh.pos;
    let t = this.count;
    for (let k = 0; k < mesh.count; k++, t++) {
      this.id[t] = 255;
      this.shade[t] = strength;
      this.nrm[t * 3] = 0; this.nrm[t * 3 + 1] = 0; this.nrm[t * 3 + 2] = 1;
      for (let v = 0; v < 3; v++) {
        const i = k * 9 + v * 3, o = t * 9 + v * 3;
        P[o] = x + (mp[i] as number) * radius;
        P[o + 1] = y + (mp[i + 1] as number) * radius;
        P[o + 2] = z;
      }
    }
    this.count = t;
  }
}
