// The software rasterizer: depth-tested, Gouraud-shaded triangles into typed arrays.
//
// For each triangle: move the vertices into camera space, clip against the near plane,
// project, then walk the pixels of the triangle's bounding box with edge functions
// (barycentric weights updated incrementally along each row). Depth is stored as 1/z,
// which is linear in screen space, so plain barycentric interpolation is exact for it.
// Colours are interpolated affinely (no perspective correction; the error is invisible
// at these sizes). Shadow triangles darken what lies under them instead of drawing.
import type { Camera } from './camera.ts';
import type { DrawList } from './drawlist.ts';

export interface Image {
  width: number;
  height: number;
  /** Row-major RGB, 3 bytes per pixel, top row first. */
  rgb: Uint8Array;
}

/** Everything one camera produces. */
export interface Frame extends Image {
  /** 1/z per pixel (0 = nothing drawn). */
  depth: Float32Array;
  /** Id of the thing visible at each pixel (255 = background or shadow-only). */
  ids: Uint8Array;
  /** Per id: projected extent of its geometry [xmin, ymin, xmax, ymax], unclipped; +-Infinity when unseen. */
  bounds: Float32Array;
}

export function makeFrame(width: number, height: number): Frame {
  return {
    width,
    height,
    rgb: new Uint8Array(width * height * 3),
    depth: new Float32Array(width * height),
    ids: new Uint8Array(width * height),
    bounds: new Float32Array(256 * 4),
  };
}

// Scratch space for clipping: up to 4 vertices of (x, y, z, r, g, b) in camera space.
const IN = new Float64Array(18);
const OUT = new Float64Array(24);

/**
 * Draw the list through the camera into the frame. `background` is a top and bottom
 * colour (0..1) for a vertical gradient. Triangles whose id is in `skip` are not drawn.
 * With fillPixels = false only `bounds` is computed (cheap: no pixel is touched).
 */
export function rasterize(list: DrawList, cam: Camera, frame: Frame, background: readonly [number, number, number],
  skip: ReadonlySet<number> = new Set(), fillPixels = true): void {
  const W = frame.width, H = frame.height;
  if (cam.width !== W || cam.height !== H) throw new Error(`camera is ${cam.width}x${cam.height} but frame is ${W}x${H}`);
  const rgb = frame.rgb, depth = frame.depth, ids = frame.ids, bounds = frame.bounds;
  for (let y = 0; fillPixels && y < H; y++) {
    const k = 1.08 - 0.16 * (y / H); // lighter at the top
    const r = Math.min(255, Math.round(background[0] * k * 255)), g = Math.min(255, Math.round(background[1] * k * 255)), b = Math.min(255, Math.round(background[2] * k * 255));
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      rgb[i] = r; rgb[i + 1] = g; rgb[i + 2] = b;
    }
  }
  if (fillPixels) {
    depth.fill(0);
    ids.fill(255);
  }
  for (let i = 0; i < 256; i++) {
    bounds[i * 4] = Infinity; bounds[i * 4 + 1] = Infinity; bounds[i * 4 + 2] = -Infinity; bounds[i * 4 + 3] = -Infinity;
  }
  const [ex, ey, ez] = cam.eye;
  const [rx, ry, rz] = cam.right, [ux, uy, uz] = cam.up, [fx, fy, fz] = cam.fwd;
  const near = cam.near, f = cam.focal, cx = W / 2, cy = H / 2;
  const P = list.pos, C = list.col;
  // Two passes: opaque surfaces first, then shadows on top of them.
  for (let pass = 0; pass < 2; pass++) {
    for (let t = 0; t < list.count; t++) {
      const shade = list.shade[t] as number;
      if ((pass === 0) !== (shade === 0)) continue;
      const id = list.id[t] as number;
      if (skip.has(id)) continue;
      let inFront = 0;
      for (let v = 0; v < 3; v++) {
        const o = t * 9 + v * 3;
        const dx = (P[o] as number) - ex, dy = (P[o + 1] as number) - ey, dz = (P[o + 2] as number) - ez;
        const zc = dx * fx + dy * fy + dz * fz;
        IN[v * 6] = dx * rx + dy * ry + dz * rz;
        IN[v * 6 + 1] = dx * ux + dy * uy + dz * uz;
        IN[v * 6 + 2] = zc;
        IN[v * 6 + 3] = C[o] as number;
        IN[v * 6 + 4] = C[o + 1] as number;
        IN[v * 6 + 5] = C[o + 2] as number;
        if (zc >= near) inFront++;
      }
      if (inFront === 0) continue;
      let n = 3;
      let src: Float64Array = IN;
      if (inFront < 3) {
        n = clipNear(near);
        src = OUT;
      }
      // Project in place (x, y become pixels, z becomes 1/z).
      for (let v = 0; v < n; v++) {
        const iz = 1 / (src[v * 6 + 2] as number);
        const sx = cx + f * (src[v * 6] as number) * iz;
        const sy = cy - f * (src[v * 6 + 1] as number) * iz;
        src[v * 6] = sx; src[v * 6 + 1] = sy; src[v * 6 + 2] = iz;
        if (id !== 255) {
          const b = id * 4;
          if (sx < (bounds[b] as number)) bounds[b] = sx;
          if (sy < (bounds[b + 1] as number)) bounds[b + 1] = sy;
          if (sx > (bounds[b + 2] as number)) bounds[b + 2] = sx;
          if (sy > (bounds[b + 3] as number)) bounds[b + 3] = sy;
        }
      }
      if (!fillPixels) continue;
      // Back faces of closed shapes are hidden by their front faces: skip them (their
      // extent above still counts for the gaze box). Open shapes model their insides
      // with inward-facing triangles, so this holds for them too.
      const N = list.nrm;
      const o0 = t * 9;
      const mx = ((P[o0] as number) + (P[o0 + 3] as number) + (P[o0 + 6] as number)) / 3 - ex;
      const my = ((P[o0 + 1] as number) + (P[o0 + 4] as number) + (P[o0 + 7] as number)) / 3 - ey;
      const mz = ((P[o0 + 2] as number) + (P[o0 + 5] as number) + (P[o0 + 8] as number)) / 3 - ez;
      if (shade === 0 && mx * (N[t * 3] as number) + my * (N[t * 3 + 1] as number) + mz * (N[t * 3 + 2] as number) > 1e-9) continue;
      for (let k = 1; k + 1 < n; k++) fill(src, 0, k, k + 1, W, H, rgb, depth, ids, id, shade);
    }
  }
}

/** Clip the triangle in IN against z = near into the polygon OUT; returns its vertex count. */
function clipNear(near: number): number {
  let n = 0;
  for (let v = 0; v < 3; v++) {
    const a = v * 6, b = ((v + 1) % 3) * 6;
    const za = IN[a + 2] as number, zb = IN[b + 2] as number;
    if (za >= near) {
      for (let k = 0; k < 6; k++) OUT[n * 6 + k] = IN[a + k] as number;
      n++;
    }
    if ((za >= near) !== (zb >= near)) {
      const s = (near - za) / (zb - za);
      for (let k = 0; k < 6; k++) OUT[n * 6 + k] = (IN[a + k] as number) + s * ((IN[b + k] as number) - (IN[a + k] as number));
      n++;
    }
  }
  return n;
}

/** Fill one screen-space triangle (vertices i0, i1, i2 of `v`, 6 floats each). */
function fill(v: Float64Array, i0: number, i1: number, i2: number, W: number, H: number,
  rgb: Uint8Array, depth: Float32Array, ids: Uint8Array, id: number, shade: number): void {
  const a = i0 * 6, b = i1 * 6, c = i2 * 6;
  const x0 = v[a] as number, y0 = v[a + 1] as number, x1 = v[b] as number, y1 = v[b + 1] as number, x2 = v[c] as number, y2 = v[c + 1] as number;
  const area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0);
  if (Math.abs(area) < 1e-9) return;
  const minX = Math.max(0, Math.floor(Math.min(x0, x1, x2))), maxX = Math.min(W - 1, Math.ceil(Math.max(x0, x1, x2)));
  const minY = Math.max(0, Math.floor(Math.min(y0, y1, y2))), maxY = Math.min(H - 1, Math.ceil(Math.max(y0, y1, y2)));
  if (minX > maxX || minY > maxY) return;
  const inv = 1 / area;
  // Barycentric weight of vertex k at pixel centre (px, py) is A_k * px + B_k * py + C_k.
  const A0 = (y1 - y2) * inv, B0 = (x2 - x1) * inv, C0 = (x1 * y2 - x2 * y1) * inv;
  const A1 = (y2 - y0) * inv, B1 = (x0 - x2) * inv, C1 = (x2 * y0 - x0 * y2) * inv;
  const z0 = v[a + 2] as number, z1 = v[b + 2] as number, z2 = v[c + 2] as number;
  const r0 = v[a + 3] as number, r1 = v[b + 3] as number, r2 = v[c + 3] as number;
  const g0 = v[a + 4] as number, g1 = v[b + 4] as number, g2 = v[c + 4] as number;
  const b0 = v[a + 5] as number, b1 = v[b + 5] as number, b2 = v[c + 5] as number;
  const eps = shade > 0 ? 1e-9 : -1e-7; // shadows: strict, so fan edges are not darkened twice
  const keep = 1 - shade;
  const A2 = -A0 - A1, B2 = -B0 - B1, C2 = 1 - C0 - C1;
  for (let py = minY; py <= maxY; py++) {
    const fy = py + 0.5;
    // Each weight is linear along the row, w_k(px) = A_k * (px + 0.5) + c_k, so the pixels
    // inside the triangle form one span [lo, hi] found by solving w_k >= eps: no per-pixel tests.
    let lo = minX, hi = maxX;
    const c0 = B0 * fy + C0, c1 = B1 * fy + C1, c2 = B2 * fy + C2;
    if (A0 > 0) lo = Math.max(lo, Math.ceil((eps - c0) / A0 - 0.5)); else if (A0 < 0) hi = Math.min(hi, Math.floor((eps - c0) / A0 - 0.5)); else if (c0 < eps) continue;
    if (A1 > 0) lo = Math.max(lo, Math.ceil((eps - c1) / A1 - 0.5)); else if (A1 < 0) hi = Math.min(hi, Math.floor((eps - c1) / A1 - 0.5)); else if (c1 < eps) continue;
    if (A2 > 0) lo = Math.max(lo, Math.ceil((eps - c2) / A2 - 0.5)); else if (A2 < 0) hi = Math.min(hi, Math.floor((eps - c2) / A2 - 0.5)); else if (c2 < eps) continue;
    let w0 = A0 * (lo + 0.5) + c0;
    let w1 = A1 * (lo + 0.5) + c1;
    for (let px = lo; px <= hi; px++, w0 += A0, w1 += A1) {
      const w2 = 1 - w0 - w1;
      const i = py * W + px;
      const iz = w0 * z0 + w1 * z1 + w2 * z2;
      if (iz <= (depth[i] as number)) continue;
      const o = i * 3;
      if (shade > 0) {
        rgb[o] = (rgb[o] as number) * keep;
        rgb[o + 1] = (rgb[o + 1] as number) * keep;
        rgb[o + 2] = (rgb[o + 2] as number) * keep;
        continue;
      }
      depth[i] = iz;
      ids[i] = id;
      rgb[o] = (w0 * r0 + w1 * r1 + w2 * r2) * 255 + 0.5;
      rgb[o + 1] = (w0 * g0 + w1 * g1 + w2 * g2) * 255 + 0.5;
      rgb[o + 2] = (w0 * b0 + w1 * b1 + w2 * b2) * 255 + 0.5;
    }
  }
}
