/**
 * BERT's embeddings block in one kernel per pass: per row (token) r of slot t,
 *   z = words[t, inputIds[r]] + positions[t, positionIds[r]],   y = dropout((z − mean) · rstd · weight[t] + bias[t]).
 * Three kernels, one invocation per row in the first two (the layout of kernels/residual-layernorm's v1):
 * - forward: gathers both table rows quad by quad, stores z and sums shifted Σ(z−z₀), Σ(z−z₀)²; a second pass
 *   reads z back and writes y with the dropout mask of kernels/dropout (one Philox call per quad). Saves z, mean
 *   and rstd for the backward.
 *   An id outside its table ([0, vocab) or [0, positions)) makes the row's z NaN, as the embedding gather's NaN row
 *   did in the unfused composition, so a bad token shows in the loss.
 * - backward row: gk = dropout's backward of dy (kept values dy / (1 − p), dropped ones 0), then LN's
 *   dz = rstd · (g − mean(g) − ẑ · mean(g·ẑ)), g = gk · weight. Writes dz (the gradient of both gathered rows) and,
 *   with dropout, gk (the dy of LN's weight/bias sums), and, when asked, the rows gk · ẑ: autograd's batched column
 *   sums (src/tensor/deferred-sum.ts) of those and of gk are LN's weight and bias gradients. Otherwise
 *   kernels/layernorm's parameter pass computes them with z as its x.
 * - position gradient, for positions that repeat with a period S (positionIds[t, r] = r mod S, as uploadBatch
 *   makes them): one invocation per value of the (T, positions, hidden) table gradient sums dz over rows
 *   p, p + S, p + 2S, … of its slot (token order, as the embedding scatter sums), 0 for p ≥ S. One dispatch instead
 *   of the embedding backward's three.
 * Specialised by `vec4` (hidden % 4 == 0: rows moved as vec4), `dropout` (false: no Philox and no dropout bindings;
 * evaluation) and `periodic` (true: the position is (r mod rowsPerSlot) mod period, positionIds is not bound).
 * Dropout stream layout (kernels/dropout/dropout.wgsl.ts): a row's dropout slot, block and row in block come from
 * (rowsPerDropoutSlot, rowsPerBlock) and the quad index is the Philox counter's first word, so the masks are those
 * of launchDropout on y with the same slot shape ([B, S, hidden]) and call index.
 * One version ships (v1, row per invocation). Not benchmarked on its own; it replaces five forward dispatches (two
 * gathers, add, layernorm, dropout) and, in the backward, dropout, LN's dx and one embedding scatter (three).
 */
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { ELEMENTWISE_WORKGROUP, linearIndexWgsl, quadAccessWgsl } from '../common.js';
import { ROW_DROPOUT_SETUP, rowDropoutWgsl } from '../dropout/dropout.wgsl.js';

export const EMBEDDINGS_LAYERNORM_WORKGROUP = 64;

/** Uniforms shared by the row kernels; the table sizes, period, nanBits and eps are read by the forward only. */
const PARAMS = /* wgsl */ `
struct Params {
  rows: u32, width: u32, rowsPerSlot: u32, hidden: u32, quads: u32, vocab: u32, positions: u32, period: u32,
  rowsPerDropoutSlot: u32, rowsPerBlock: u32, callOffset: u32, nanBits: u32, eps: f32,
}
@group(0) @binding(0) var<uniform> params: Params;`;

export function embeddingsLayerNormForwardWgsl(vec4: boolean, dropout: boolean, periodic: boolean): string {
  const lane = vec4 ? 'vec4f' : 'f32';
  return wgsl`
${PARAMS}
@group(0) @binding(1) var<storage, read> words: array<${lane}>;       // (slots, vocab, hidden)
@group(0) @binding(2) var<storage, read> positionTable: array<${lane}>; // (slots, positions, hidden)
@group(0) @binding(3) var<storage, read> inputIds: array<i32>;        // (slots, rowsPerSlot)
@group(0) @binding(4) var<storage, read> weight: array<${lane}>;      // (slots, hidden)
@group(0) @binding(5) var<storage, read> bias: array<${lane}>;        // (slots, hidden)
@group(0) @binding(6) var<storage, read_write> z: array<${lane}>;     // (slots, rowsPerSlot, hidden): the rows' sum
@group(0) @binding(7) var<storage, read_write> y: array<${lane}>;     // (slots, rowsPerSlot, hidden)
@group(0) @binding(8) var<storage, read_write> mean: array<f32>;      // (slots, rowsPerSlot)
@group(0) @binding(9) var<storage, read_write> rstd: array<f32>;      // (slots, rowsPerSlot)
#if ${!periodic}
@group(0) @binding(10) var<storage, read> positionIds: array<i32>;    // (slots, rowsPerSlot)
#endif
#if ${dropout}
${rowDropoutWgsl(periodic ? 10 : 11)}
#endif
${quadAccessWgsl(vec4, ['words', 'positionTable', 'z', 'weight', 'bias'], ['z', 'y'])}
${linearIndexWgsl(EMBEDDINGS_LAYERNORM_WORKGROUP)}

@compute @workgroup_size(${EMBEDDINGS_LAYERNORM_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let row = linearIndex(group, local, groups);
  if (row >= params.rows) { return; }
  let slot = row / params.rowsPerSlot;
  let start = row * params.width;
  let weightStart = slot * params.width;
  let id = inputIds[row];
#if ${periodic}
  let position = i32((row % params.rowsPerSlot) % params.period);
#else
  let position = positionIds[row];
#endif
  // A bad id reads row 0 of its table and the row becomes NaN: never an index outside the table.
  let valid = id >= 0 && u32(id) < params.vocab && position >= 0 && u32(position) < params.positions;
  let wordStart = (slot * params.vocab + select(0u, u32(id), valid)) * params.width;
  let positionStart = (slot * params.positions + select(0u, u32(position), valid)) * params.width;
  let nan = vec4f(bitcast<f32>(params.nanBits));
  var shift = 0.0;
  var s = vec4f(0.0);
  var q = vec4f(0.0);
  for (var i = 0u; i < params.quads; i++) {
    let value = select(nan, load_words(wordStart, i) + load_positionTable(positionStart, i), valid);
    store_z(start, i, value);
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
#if ${dropout}
${ROW_DROPOUT_SETUP}
#endif
  for (var i = 0u; i < params.quads; i++) {
    let normed = (load_z(start, i) - mu) * r * load_weight(weightStart, i) + load_bias(weightStart, i);
#if ${dropout}
    // As kernels/dropout: a dropped value is 0 (not normed · 0, which is NaN for a NaN row).
    let value = select(vec4f(0.0), normed * scale, keepQuad(i, rowInBlock, block, call, seed, p));
#else
    let value = normed;
#endif
    store_y(start, i, value);
  }
  mean[row] = mu;
  rstd[row] = r;
}`;
}

/**
 * dz (the gradient of z) and, with dropout, gk = dropout's backward of dy, from the forward's z, mean and rstd; with
 * `weightRows`, also the rows dy·ẑ (dy masked), whose column sums are LayerNorm's weight gradient.
 */
export function embeddingsLayerNormBackwardWgsl(vec4: boolean, dropout: boolean, weightRows = false): string {
  const lane = vec4 ? 'vec4f' : 'f32';
  const stores = [...(dropout ? ['dz', 'gk'] : ['dz']), ...(weightRows ? ['dyxhat'] : [])];
  return wgsl`
${PARAMS}
@group(0) @binding(1) var<storage, read> z: array<${lane}>;                // (slots, rowsPerSlot, hidden)
@group(0) @binding(2) var<storage, read> weight: array<${lane}>;           // (slots, hidden)
@group(0) @binding(3) var<storage, read> mean: array<f32>;                 // (slots, rowsPerSlot)
@group(0) @binding(4) var<storage, read> rstd: array<f32>;                 // (slots, rowsPerSlot)
@group(0) @binding(5) var<storage, read> dy: array<${lane}>;               // (slots, rowsPerSlot, hidden)
@group(0) @binding(6) var<storage, read_write> dz: array<${lane}>;         // (slots, rowsPerSlot, hidden)
#if ${dropout}
@group(0) @binding(7) var<storage, read_write> gk: array<${lane}>;         // (slots, rowsPerSlot, hidden): masked dy
${rowDropoutWgsl(8)}
#endif
#if ${weightRows}
@group(0) @binding(${dropout ? 11 : 7}) var<storage, read_write> dyxhat: array<${lane}>; // (slots, rowsPerSlot, hidden): dy·ẑ
#endif
${quadAccessWgsl(vec4, dropout ? ['z', 'weight', 'dy', 'gk'] : ['z', 'weight', 'dy'], stores)}
${linearIndexWgsl(EMBEDDINGS_LAYERNORM_WORKGROUP)}

@compute @workgroup_size(${EMBEDDINGS_LAYERNORM_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let row = linearIndex(group, local, groups);
  if (row >= params.rows) { return; }
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
#if ${dropout}
    // Stored once, so the second pass reads it instead of drawing the mask again.
    let kept = select(vec4f(0.0), load_dy(start, i) * scale, keepQuad(i, rowInBlock, block, call, seed, p));
    store_gk(start, i, kept);
#else
    let kept = load_dy(start, i);
#endif
#if ${weightRows}
    // The weight gradient's rows, summed later with other layers' (src/tensor/deferred-sum.ts).
    store_dyxhat(start, i, kept * (load_z(start, i) - mu) * r);
#endif
    let g = kept * load_weight(weightStart, i);
    a += g;
    b += g * (load_z(start, i) - mu) * r;
  }
  let n = f32(params.hidden);
  let meanG = ((a.x + a.y) + (a.z + a.w)) / n;
  let meanGX = ((b.x + b.y) + (b.z + b.w)) / n;
  for (var i = 0u; i < params.quads; i++) {
#if ${dropout}
    let g = load_gk(start, i) * load_weight(weightStart, i);
#else
    let g = load_dy(start, i) * load_weight(weightStart, i);
#endif
    store_dz(start, i, r * (g - meanG - (load_z(start, i) - mu) * r * meanGX));
  }
}`;
}

/** The position table's gradient for periodic positions: one invocation per value (or vec4) of (slots, positions, hidden). */
export function periodicPositionGradWgsl(vec4: boolean): string {
  const lane = vec4 ? 'vec4f' : 'f32';
  return /* wgsl */ `
struct Params { count: u32, width: u32, positions: u32, rowsPerSlot: u32, period: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dz: array<${lane}>;               // (slots, rowsPerSlot, hidden)
@group(0) @binding(2) var<storage, read_write> gradTable: array<${lane}>;  // (slots, positions, hidden)
${linearIndexWgsl(ELEMENTWISE_WORKGROUP)}

@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(group, local, groups);
  if (i >= params.count) { return; }
  let h = i % params.width;
  let tableRow = i / params.width; // slot * positions + position
  let slot = tableRow / params.positions;
  let position = tableRow % params.positions;
  // Rows position, position + period, … of the slot, in token order; none (0) for positions ≥ period.
  var total = ${lane}(0.0);
  for (var r = position; r < params.rowsPerSlot && position < params.period; r += params.period) {
    total += dz[(slot * params.rowsPerSlot + r) * params.width + h];
  }
  gradTable[i] = total;
}`;
}

/**
 * The position table's gradient for positions that count up along sequences (uploadBatch's packed layout): one
 * invocation per value (or vec4) of (slots, positions, hidden) sums, over the sequences b of its slot in order, row
 * first_b + position of each that owns it and has that position id. Rows of other ids there (a packed slot's tail,
 * position 0) are left out: the caller vouches their gradient is 0.
 */
export function sequencePositionGradWgsl(vec4: boolean): string {
  const lane = vec4 ? 'vec4f' : 'f32';
  return /* wgsl */ `
struct Params { count: u32, width: u32, positions: u32, rowsPerSlot: u32, batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dz: array<${lane}>;               // (slots, rowsPerSlot, hidden)
@group(0) @binding(2) var<storage, read> positionIds: array<i32>;          // (slots, rowsPerSlot)
@group(0) @binding(3) var<storage, read> sequences: array<i32>;            // (slots, B, 2): first row, rows owned
@group(0) @binding(4) var<storage, read_write> gradTable: array<${lane}>;  // (slots, positions, hidden)
${linearIndexWgsl(ELEMENTWISE_WORKGROUP)}

@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(group, local, groups);
  if (i >= params.count) { return; }
  let h = i % params.width;
  let tableRow = i / params.width; // slot * positions + position
  let slot = tableRow / params.positions;
  let position = tableRow % params.positions;
  var total = ${lane}(0.0);
  for (var b = 0u; b < params.batch; b++) {
    let at = 2u * (slot * params.batch + b);
    let row = slot * params.rowsPerSlot + u32(sequences[at]) + position;
    if (position < u32(sequences[at + 1u]) && positionIds[row] == i32(position)) { total += dz[row * params.width + h]; }
  }
  gradTable[i] = total;
}`;
}
