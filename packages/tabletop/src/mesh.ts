// Unit meshes in local coordinates: triangles with per-vertex normals. The scene builder
// scales, turns and places them. Windings are not relied upon (the rasterizer draws
// both faces), so the shapes only need to be closed where they can be seen.

export interface Mesh {
  /** 9 floats per triangle: three xyz vertices. */
  pos: Float32Array;
  /** 9 floats per triangle: three xyz normals. */
  nrm: Float32Array;
  count: number;
}

class MeshBuilder {
  private p: number[] = [];
  private n: number[] = [];
  tri(a: number[], b: number[], c: number[], na: number[], nb: number[] = na, nc: number[] = na): void {
    this.p.push(...a, ...b, ...c);
    this.n.push(...na, ...nb, ...nc);
  }
  quad(a: number[], b: number[], c: number[], d: number[], n: number[]): void {
    this.tri(a, b, c, n);
    this.tri(a, c, d, n);
  }
  build(): Mesh {
    return { pos: new Float32Array(this.p), nrm: new Float32Array(this.n), count: this.p.length / 9 };
  }
}

/** Box spanning x, y in [-0.5, 0.5] and z in [0, 1]. */
export function boxMesh(): Mesh {
  const m = new MeshBuilder();
  const x0 = -0.5, x1 = 0.5, y0 = -0.5, y1 = 0.5, z0 = 0, z1 = 1;
  m.quad([x0, y0, z1], [x1, y0, z1], [x1, y1, z1], [x0, y1, z1], [0, 0, 1]);
  m.quad([x0, y0, z0], [x1, y0, z0], [x1, y0, z1], [x0, y0, z1], [0, -1, 0]);
  m.quad([x1, y1, z0], [x0, y1, z0], [x0, y1, z1], [x1, y1, z1], [0, 1, 0]);
  m.quad([x0, y1, z0], [x0, y0, z0], [x0, y0, z1], [x0, y1, z1], [-1, 0, 0]);
  m.quad([x1, y0, z0], [x1, y1, z0], [x1, y1, z1], [x1, y0, z1], [1, 0, 0]);
  m.quad([x0, y0, z0], [x0, y1, z0], [x1, y1, z0], [x1, y0, z0], [0, 0, -1]);
  return m.build();
}

/** Upward-facing square spanning x, y in [-0.5, 0.5] at z = 0 (table tiles). */
export function quadMesh(): Mesh {
  const m = new MeshBuilder();
  m.quad([-0.5, -0.5, 0], [0.5, -0.5, 0], [0.5, 0.5, 0], [-0.5, 0.5, 0], [0, 0, 1]);
  return m.build();
}

/** Cylinder of radius 1 with z in [0, 1], smooth sides, flat top. */
export function cylinderMesh(segments = 16): Mesh {
  const m = new MeshBuilder();
  for (let i = 0; i < segments; i++) {
    const a0 = (2 * Math.PI * i) / segments, a1 = (2 * Math.PI * (i + 1)) / segments;
    const c0 = Math.cos(a0), s0 = Math.sin(a0), c1 = Math.cos(a1), s1 = Math.sin(a1);
    m.tri([c0, s0, 0], [c1, s1, 0], [c1, s1, 1], [c0, s0, 0], [c1, s1, 0], [c1, s1, 0]);
    m.tri([c0, s0, 0], [c1, s1, 1], [c0, s0, 1], [c0, s0, 0], [c1, s1, 0], [c0, s0, 0]);
    m.tri([0, 0, 1], [c0, s0, 1], [c1, s1, 1], [0, 0, 1]);
  }
  return m.build();
}

/** Open cup: outer wall radius 1, inner wall radius `inner`, floor at `floor`, z in [0, 1]. */
export function cupMesh(segments = 16, inner = 0.85, floor = 0.12): Mesh {
  const m = new MeshBuilder();
  for (let i = 0; i < segments; i++) {
    const a0 = (2 * Math.PI * i) / segments, a1 = (2 * Math.PI * (i + 1)) / segments;
    const c0 = Math.cos(a0), s0 = Math.sin(a0), c1 = Math.cos(a1), s1 = Math.sin(a1);
    // outer wall
    m.tri([c0, s0, 0], [c1, s1, 0], [c1, s1, 1], [c0, s0, 0], [c1, s1, 0], [c1, s1, 0]);
    m.tri([c0, s0, 0], [c1, s1, 1], [c0, s0, 1], [c0, s0, 0], [c1, s1, 0], [c0, s0, 0]);
    // inner wall, normals pointing inwards
    const r = inner;
    m.tri([r * c0, r * s0, floor], [r * c1, r * s1, 1], [r * c1, r * s1, floor], [-c0, -s0, 0], [-c1, -s1, 0], [-c1, -s1, 0]);
    m.tri([r * c0, r * s0, floor], [r * c0, r * s0, 1], [r * c1, r * s1, 1], [-c0, -s0, 0], [-c0, -s0, 0], [-c1, -s1, 0]);
    // rim
    m.quad([r * c0, r * s0, 1], [c0, s0, 1], [c1, s1, 1], [r * c1, r * s1, 1], [0, 0, 1]);
    // floor
    m.tri([0, 0, floor], [r * c0, r * s0, floor], [r * c1, r * s1, floor], [0, 0, 1]);
  }
  return m.build();
}

/** Bowl: a cup whose wall flares out (bottom radius 0.7, top radius 1). */
export function bowlMesh(segments = 18): Mesh {
  const m = new MeshBuilder();
  const rb = 0.62, rt = 1, ri = 0.88, rf = 0.55, floor = 0.18;
  for (let i = 0; i < segments; i++) {
    const a0 = (2 * Math.PI * i) / segments, a1 = (2 * Math.PI * (i + 1)) / segments;
    const c0 = Math.cos(a0), s0 = Math.sin(a0), c1 = Math.cos(a1), s1 = Math.sin(a1);
    const n0 = [c0 * 0.8, s0 * 0.8, -0.6], n1 = [c1 * 0.8, s1 * 0.8, -0.6];
    m.tri([rb * c0, rb * s0, 0], [rb * c1, rb * s1, 0], [rt * c1, rt * s1, 1], n0, n1, n1);
    m.tri([rb * c0, rb * s0, 0], [rt * c1, rt * s1, 1], [rt * c0, rt * s0, 1], n0, n1, n0);
    const m0 = [-c0 * 0.7, -s0 * 0.7, 0.7], m1 = [-c1 * 0.7, -s1 * 0.7, 0.7];
    m.tri([rf * c0, rf * s0, floor], [ri * c1, ri * s1, 1], [rf * c1, rf * s1, floor], m0, m1, m1);
    m.tri([rf * c0, rf * s0, floor], [ri * c0, ri * s0, 1], [ri * c1, ri * s1, 1], m0, m0, m1);
    m.quad([ri * c0, ri * s0, 1], [c0, s0, 1], [c1, s1, 1], [ri * c1, ri * s1, 1], [0, 0, 1]);
    m.tri([0, 0, floor], [rf * c0, rf * s0, floor], [rf * c1, rf * s1, floor], [0, 0, 1]);
  }
  return m.build();
}

/** Sphere of radius 1 centred at (0, 0, 1), so it rests on z = 0. */
export function sphereMesh(slices = 12, stacks = 8): Mesh {
  const m = new MeshBuilder();
  const v = (i: number, j: number): number[] => {
    const th = (Math.PI * j) / stacks, ph = (2 * Math.PI * i) / slices;
    return [Math.sin(th) * Math.cos(ph), Math.sin(th) * Math.sin(ph), Math.cos(th)];
  };
  const up = (n: number[]): number[] => [n[0]!, n[1]!, n[2]! + 1];
  for (let j = 0; j < stacks; j++) {
    for (let i = 0; i < slices; i++) {
      const a = v(i, j), b = v(i + 1, j), c = v(i + 1, j + 1), d = v(i, j + 1);
      if (j > 0) m.tri(up(a), up(b), up(c), a, b, c);
      if (j < stacks - 1) m.tri(up(a), up(c), up(d), a, c, d);
    }
  }
  return m.build();
}

/** Flat disc of radius 1 at z = 0, as a fan (used for shadows). */
export function discMesh(segments = 14): Mesh {
  const m = new MeshBuilder();
  for (let i = 0; i < segments; i++) {
    const a0 = (2 * Math.PI * i) / segments, a1 = (2 * Math.PI * (i + 1)) / segments;
    m.tri([0, 0, 0], [Math.cos(a0), Math.sin(a0), 0], [Math.cos(a1), Math.sin(a1), 0], [0, 0, 1]);
  }
  return m.build();
}

export const MESHES = {
  box: boxMesh(),
  quad: quadMesh(),
  cylinder: cylinderMesh(),
  cup: cupMesh(),
  bowl: bowlMesh(),
  sphere: sphereMesh(),
  disc: discMesh(),
} as const;
