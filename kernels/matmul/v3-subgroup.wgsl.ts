/**
 * Matmul v3, the variant for lavapipe (Mesa's CPU Vulkan), from the feasibility study in PEERS.md. One workgroup is
 * one subgroup of 8 lanes and owns a 32x32 output tile; each lane owns a tall narrow 32-row x 4-column block
 * (32 vec4 accumulators). Per step of 4 k-values:
 *   - each lane loads a 4-row x 4-k block of A (lane L: rows 4L..4L+3), and `subgroupBroadcast` hands every row to
 *     every lane (nearly free on lavapipe, where each storage load costs ~50 multiply-adds);
 *   - each lane loads its own 4 k x 4 columns of B;
 *   - the inner loop is accumulator-major: each accumulator gets its 4 k-steps back to back. The study found this
 *     order alone doubled the speed by cutting register spills, and K unrolled by exactly 4 (8 or 16 spill again).
 * So 8 loads feed 512 multiply-adds. No workgroup memory or barriers: lavapipe runs them lane by lane.
 *
 * Loads are vec4 where the operand's contiguous axis is a multiple of 4 (A: k, or m when transposed; B: n, or k
 * when transposed) and scalar otherwise. Indices are clamped into the matrix, and A's values past k are zeroed when
 * k is not a multiple of 4, so the K loop is uniform and nothing is read out of bounds; only stores are guarded.
 *
 * Needs the `subgroups` feature with a subgroup size of exactly 8 (the broadcast lane indices are constants); the
 * chooser checks that. The unrolled body is generated below: 32 accumulators cannot be written as a WGSL array
 * without lavapipe putting them in memory.
 */
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { range } from '../common.js';
import { bindingsWgsl, epilogueWgsl, type MatmulSpec } from './matmul-common.wgsl.js';

export const V3_TILE = { rows: 32, cols: 32, lanes: 8 } as const;

export interface V3Spec extends MatmulSpec {
  /** A's contiguous axis (k, or m when transposed) is a multiple of 4: bind A as vec4s. */
  aVec4: boolean;
  /** B's contiguous axis (n, or k when transposed) is a multiple of 4: bind B as vec4s. */
  bVec4: boolean;
  /** k is not a multiple of 4: the last step zeroes A's values past k. */
  kTail: boolean;
}

const lines = (count: number, line: (i: number) => string) => range(count).map(line).join('\n    ');

/** aRow0..aRow3: this lane's rows 4L+q, each a vec4 of k0..k0+3. */
function loadA(spec: V3Spec): string {
  const kIndex = (kq: number) => `min(k0 + ${kq}u, params.k - 1u)`;
  if (!spec.transposeA && spec.aVec4) {
    return lines(4, (q) => `var aRow${q} = a[(aBase + aRowIndex${q} * params.k + k0) / 4u];`);
  }
  if (!spec.transposeA) {
    return lines(4, (q) => {
      const at = (kq: number) => `a[aBase + aRowIndex${q} * params.k + ${kIndex(kq)}]`;
      return `var aRow${q} = vec4f(${range(4).map(at).join(', ')});`;
    });
  }
  // Transposed (k, m): load along m (4 rows at one k), then transpose the 4x4 block in registers.
  const column = spec.aVec4
    ? (kq: number) => `let aCol${kq} = a[(aBase + ${kIndex(kq)} * params.m + aRowVec) / 4u];`
    : (kq: number) =>
        `let aCol${kq} = vec4f(${range(4)
          .map((q) => `a[aBase + ${kIndex(kq)} * params.m + aRowIndex${q}]`)
          .join(', ')});`;
  return [
    lines(4, column),
    lines(4, (q) => `var aRow${q} = vec4f(aCol0[${q}], aCol1[${q}], aCol2[${q}], aCol3[${q}]);`),
  ].join('\n    ');
}

/** b0..b3: B at k0+kq for this lane's 4 columns. */
function loadB(spec: V3Spec): string {
  const kIndex = (kq: number) => `min(k0 + ${kq}u, params.k - 1u)`;
  if (!spec.transposeB && spec.bVec4) {
    return lines(4, (kq) => `let b${kq} = b[(bBase + ${kIndex(kq)} * params.n + bColVec) / 4u];`);
  }
  if (!spec.transposeB) {
    return lines(4, (kq) => {
      const at = (j: number) => `b[bBase + ${kIndex(kq)} * params.n + bColIndex${j}]`;
      return `let b${kq} = vec4f(${range(4).map(at).join(', ')});`;
    });
  }
  // Transposed (n, k): load along k (one column's 4 k-values), then transpose in registers.
  const column = spec.bVec4
    ? (j: number) => `let bCol${j} = b[(bBase + bColIndex${j} * params.k + k0) / 4u];`
    : (j: number) =>
        `let bCol${j} = vec4f(${range(4)
          .map((kq) => `b[bBase + bColIndex${j} * params.k + ${kIndex(kq)}]`)
          .join(', ')});`;
  return [
    lines(4, column),
    lines(4, (kq) => `let b${kq} = vec4f(bCol0[${kq}], bCol1[${kq}], bCol2[${kq}], bCol3[${kq}]);`),
  ].join('\n    ');
}

/** `rows` (a multiple of 4, at most 32) is for tuning experiments; the launcher uses V3_TILE.rows. */
export function matmulV3Wgsl(spec: V3Spec, rows: number = V3_TILE.rows): string {
  const ROWS = rows;
  const aType = spec.aVec4 ? 'vec4f' : 'f32';
  const bType = spec.bVec4 ? 'vec4f' : 'f32';
  return wgsl`
enable subgroups;
${bindingsWgsl(spec, aType, bType)}
${epilogueWgsl(spec)}

@compute @workgroup_size(${V3_TILE.lanes})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let batchIndex = group.z;
  let rowBase = group.y * ${ROWS}u;
  let col0 = group.x * ${V3_TILE.cols}u + lane * 4u;
  let aBase = batchIndex * params.aBatchStride;
  let bBase = batchIndex * params.bBatchStride;
  // Clamped load indices: rows/columns past the matrix read valid data whose results are never stored. With vec4
  // loads the 4 rows (columns) are either all inside or all outside, so clamping the first to m-4 (n-4) is safe.
  let aRowVec = min(rowBase + lane * 4u, max(params.m, 4u) - 4u);
  ${lines(4, (q) => `let aRowIndex${q} = min(rowBase + lane * 4u + ${q}u, params.m - 1u);`)}
  let bColVec = min(col0, max(params.n, 4u) - 4u);
  ${lines(4, (j) => `let bColIndex${j} = min(col0 + ${j}u, params.n - 1u);`)}
  ${accumulatorsWgsl(ROWS)}

  for (var k0 = 0u; k0 < params.k; k0 += 4u) {
    ${loadA(spec)}
#if ${spec.kTail}
    // Past k: zero A's values (B's are clamped, finite), so the padding adds nothing.
    let kInside = vec4u(k0) + vec4u(0u, 1u, 2u, 3u) < vec4u(params.k);
    ${lines(4, (q) => `aRow${q} = select(vec4f(0.0), aRow${q}, kInside);`)}
#endif
    ${loadB(spec)}
    ${subgroupStepWgsl(ROWS)}
  }
  ${tileStoreWgsl(ROWS)}
}
`;
}

/**
 * One 4-k step of the tile (shared with v5): row r of the tile is lane r/4's aRow{r%4}, handed to every lane by
 * `subgroupBroadcast`; b0..b3 are this lane's 4 columns at k0..k0+3; each accumulator takes its 4 k back to back.
 */
export function subgroupStepWgsl(rows: number): string {
  return lines(rows, (r) => {
    const row = `subgroupBroadcast(aRow${r % 4}, ${Math.floor(r / 4)}u)`;
    return `{ let ar = ${row}; acc${r} += ar.x * b0; acc${r} += ar.y * b1; acc${r} += ar.z * b2; acc${r} += ar.w * b3; }`;
  });
}

/** The accumulators' declarations (shared with v5). */
export function accumulatorsWgsl(rows: number): string {
  return lines(rows, (r) => `var acc${r} = vec4f(0.0);`);
}

/**
 * Stores the tile (shared with v5) through `storeOutput`, or a row's 4 columns at once through `storeOutput4` with
 * `vec4`. A loop, not unrolled: it runs once per tile, and 128 inlined GELUs made compiles much slower.
 */
export function tileStoreWgsl(rows: number, vec4 = false): string {
  const store = vec4
    ? 'storeOutput4(batchIndex, rowBase + r, col0, results[r]);'
    : `for (var j = 0u; j < 4u; j++) {
      storeOutput(batchIndex, rowBase + r, col0 + j, results[r][j]);
    }`;
  return `let results = array<vec4f, ${rows}>(${range(rows).map((r) => `acc${r}`).join(', ')});
  for (var r = 0u; r < ${rows}u; r++) {
    ${store}
  }`;
}
