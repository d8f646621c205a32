/**
 * Residual + dropout + layer normalisation in one kernel per pass, for BERT's post-LN sublayers:
 *   z = x + dropout(branch),  y = (z − mean) · rstd · weight + bias   (rows of `hidden`, weight/bias per slot).
 * Two kernels, one invocation per row (the layout of kernels/layernorm's v1):
 * - forward: a pass computing z quad by quad (one Philox call per 4 values, the mask of kernels/dropout), storing it
 *   and summing shifted Σ(z−z₀), Σ(z−z₀)² in vec4 partial sums; then a write pass reading z back for y. Saves z,
 *   mean and rstd: the backward's row kernel and kernels/layernorm's weight/bias partials read z instead of
 *   recomputing it (x, branch and a Philox call per quad), and the unfused path kept z alive for its backward too.
 * - backward row: dz = rstd · (g − mean(g) − ẑ · mean(g·ẑ)), g = dy · weight (LN's dx, v1's formula), and in the
 *   same write pass dbranch = dropout's backward of dz: kept values dz / (1 − p), dropped ones 0, and, when asked,
 *   the rows dy · ẑ, whose column sums (autograd's batched sums, src/tensor/deferred-sum.ts) are dweight; dbias is
 *   dy's. Otherwise dweight and dbias are kernels/layernorm's parameter-gradient launch with z as its x.
 * Specialised by `vec4` (hidden % 4 == 0: rows read as vec4, one per quad) and `dropout` (false: z = x + branch,
 * no Philox, no dropout bindings; evaluation). Quads past the row's end (hidden % 4 != 0) load as 0 and are
 * masked out of the sums and stores.
 * Dropout stream layout (kernels/dropout/dropout.wgsl.ts): a row's dropout slot, block and row in block come from
 * (rowsPerDropoutSlot, rowsPerBlock), the quad index is the Philox counter's first word, so the masks are those of
 * launchDropout on the branch with the same slot shape and call index.
 * One version ships (v1, row per invocation). Against dropout + add + layernorm (v4 `registers` forward on
 * lavapipe) + layernorm's dx + dropout's backward, forward and backward of one sublayer took 37 ms instead of 70 at
 * 4096 × 256 and 70 ms instead of 133 at 2048 × 768 (lavapipe, shared 2-core VM, medians of 10 interleaved runs,
 * 2026-12-02; a one-off script, not kept). A v4-style forward (rows in registers, a subgroup per block of rows) is
 * the next step on lavapipe; a workgroup per row on real GPUs, as for kernels/layernorm.
 */
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { linearIndexWgsl, quadAccessWgsl } from '../common.js';
import { ROW_DROPOUT_SETUP, rowDropoutWgsl } from '../dropout/dropout.wgsl.js';

export const RESIDUAL_LAYERNORM_WORKGROUP = 64;

/** Uniforms shared by both passes; `eps` is read by the forward only. */
const PARAMS = /* wgsl */ `
struct Params {
  rows: u32, width: u32, rowsPerSlot: u32, hidden: u32, quads: u32,
  rowsPerDropoutSlot: u32, rowsPerBlock: u32, callOffset: u32, eps: f32,
}
@group(0) @binding(0) var<uniform> params: Params;`;

/** `width` is hidden, or hidden / 4 with vec4 lanes; `quads` is ceil(hidden / 4). */
export function residualLayerNormForwardWgsl(vec4: boolean, dropout: boolean): string {
  const lane = vec4 ? 'vec4f' : 'f32';
  return wgsl`
${PARAMS}
@group(0) @binding(1) var<storage, read> x: array<${lane}>;           // (slots, rowsPerSlot, hidden)
@group(0) @binding(2) var<storage, read> branch: array<${lane}>;      // (slots, rowsPerSlot, hidden)
@group(0) @binding(3) var<storage, read> weight: array<${lane}>;      // (slots, hidden)
@group(0) @binding(4) var<storage, read> bias: array<${lane}>;        // (slots, hidden)
@group(0) @binding(5) var<storage, read_write> z: array<${lane}>;     // (slots, rowsPerSlot, hidden): x + dropout(branch)
@group(0) @binding(6) var<storage, read_write> y: array<${lane}>;     // (slots, rowsPerSlot, hidden)
@group(0) @binding(7) var<storage, read_write> mean: array<f32>;      // (slots, rowsPerSlot)
@group(0) @binding(8) var<storage, read_write> rstd: array<f32>;      // (slots, rowsPerSlot)
#if ${dropout}
${rowDropoutWgsl(9)}
#endif
${quadAccessWgsl(vec4, ['x', 'branch', 'z', 'weight', 'bias'], ['z', 'y'])}
${linearIndexWgsl(RESIDUAL_LAYERNORM_WORKGROUP)}

@compute @workgroup_size(${RESIDUAL_LAYERNORM_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let index = linearIndex(group, local, groups);
  // Past-the-end invocations redo the last row and skip only the stores: loops stay uniform (as kernels/layernorm).
  let inRange = index < params.rows;
  let row = min(index, params.rows - 1u);
  let start = row * params.width;
  let weightStart = (row / params.rowsPerSlot) * params.width;
#if ${dropout}
${ROW_DROPOUT_SETUP}
#endif
  var shift = 0.0;
  var s = vec4f(0.0);
  var q = vec4f(0.0);
  for (var i = 0u; i < params.quads; i++) {
#if ${dropout}
    // As kernels/dropout: a dropped value is 0 (not branch · 0, which is NaN for an infinite branch).
    let dropped = select(vec4f(0.0), load_branch(start, i) * scale, keepQuad(i, rowInBlock, block, call, seed, p));
    let value = load_x(start, i) + dropped;
#else
    let value = load_x(start, i) + load_branch(start, i);
#endif
    if (inRange) { store_z(start, i, value); }
    if (i == 0u) { shift = value.x; } // Shifted sums keep the variance accurate when |mean| ≫ std.
    let d = select(vec4f(0.0), value - shift, validLanes(i));
    s += d;
    q += d * d;
  }
  let n = f32(params.hidden);
  let sum = (s.x + s.y) + (s.z + s.w);
  let centredMean = sum / n;
  let variance = max(((q.x + q.y) + (q.z + q.w) - sum * centredMean) / n, 0.0);
  let r = 1.0 / sqrt(variance + params.eps);
  let mu = shift + centredMean;
  for (var i = 0u; i < params.quads; i++) {
    let value = (load_z(start, i) - mu) * r * load_weight(weightStart, i) + load_bias(weightStart, i);
    if (inRange) { store_y(start, i, value); }
  }
  if (inRange) {
    mean[index] = mu;
    rstd[index] = r;
  }
}`;
}

/** dz (the gradient of x) and dbranch from dy and the forward's z, mean and rstd. */
export function residualLayerNormBackwardWgsl(vec4: boolean, dropout: boolean, weightRows = false): string {
  const lane = vec4 ? 'vec4f' : 'f32';
  const weightRowsBinding = dropout ? 11 : 8;
  return wgsl`
${PARAMS}
@group(0) @binding(1) var<storage, read> z: array<${lane}>;                // (slots, rowsPerSlot, hidden)
@group(0) @binding(2) var<storage, read> weight: array<${lane}>;           // (slots, hidden)
@group(0) @binding(3) var<storage, read> mean: array<f32>;                 // (slots, rowsPerSlot)
@group(0) @binding(4) var<storage, read> rstd: array<f32>;                 // (slots, rowsPerSlot)
@group(0) @binding(5) var<storage, read> dy: array<${lane}>;               // (slots, rowsPerSlot, hidden)
@group(0) @binding(6) var<storage, read_write> dz: array<${lane}>;         // (slots, rowsPerSlot, hidden): dx
@group(0) @binding(7) var<storage, read_write> dbranch: array<${lane}>;    // (slots, rowsPerSlot, hidden)
#if ${dropout}
${rowDropoutWgsl(8)}
#endif
#if ${weightRows}
@group(0) @binding(${weightRowsBinding}) var<storage, read_write> dyxhat: array<${lane}>; // (slots, rowsPerSlot, hidden): dy·ẑ
#endif
${quadAccessWgsl(vec4, ['z', 'weight', 'dy'], ['dz', 'dbranch', ...(weightRows ? ['dyxhat'] : [])])}
${linearIndexWgsl(RESIDUAL_LAYERNORM_WORKGROUP)}

@compute @workgroup_size(${RESIDUAL_LAYERNORM_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let index = linearIndex(group, local, groups);
  let inRange = index < params.rows;
  let row = min(index, params.rows - 1u);
  let start = row * params.width;
  let weightStart = (row / params.rowsPerSlot) * params.width;
  let mu = mean[row];
  let r = rstd[row];
#if ${dropout}
${ROW_DROPOUT_SETUP}
#endif
  // Lanes past the row's end load dy = weight = 0, so they add nothing.
  var a = vec4f(0.0);
  var b = vec4f(0.0);
  for (var i = 0u; i < params.quads; i++) {
    let g = load_dy(start, i) * load_weight(weightStart, i);
    a += g;
    b += g * (load_z(start, i) - mu) * r;
  }
  let n = f32(params.hidden);
  let meanG = ((a.x + a.y) + (a.z + a.w)) / n;
  let meanGX = ((b.x + b.y) + (b.z + b.w)) / n;
  for (var i = 0u; i < params.quads; i++) {
    let g = load_dy(start, i) * load_weight(weightStart, i);
    let value = r * (g - meanG - (load_z(start, i) - mu) * r * meanGX);
#if ${dropout}
    let masked = select(vec4f(0.0), value * scale, keepQuad(i, rowInBlock, block, call, seed, p));
#else
    let masked = value;
#endif
    if (inRange) {
      store_dz(start, i, value);
      store_dbranch(start, i, masked);
#if ${weightRows}
      // The weight gradient's rows, summed later with the bias gradients (src/tensor/deferred-sum.ts); the terms
      // kernels/layernorm's parameter pass adds.
      store_dyxhat(start, i, load_dy(start, i) * (load_z(start, i) - mu) * r);
#endif
    }
  }
}`;
}
