/**
 * Fused multi-head self-attention WGSL: from q, k, v (the query/key/value Linear outputs, each (T·rows, hidden) with
 * hidden = heads·D) to the merged context (T·rows, hidden), in one forward dispatch and two backward dispatches.
 * It replaces the composition scale q → split heads → q·kᵀ → + maskBias → softmax → dropout → ·v → merge heads
 * (src/nn/attention.ts's unfused path, 12 forward and ~15 backward dispatches per layer).
 *
 * Layout. Workgroup (x, y, z) = (row block, b·heads + h, slot t); each invocation owns one row: a query row in the
 * forward and in the dq backward, a key row in the dk/dv backward. Heads are read in place from the (T·rows, hidden)
 * buffers (row s of head h starts at (t·rows + first_b + s)·hidden + h·D, first_b from the (T, B, 2) sequence table:
 * b·S padded, sequences end to end packed), so no permute is needed on either side. Each sequence owns rows of the
 * buffers (S padded; its tokens packed, the last of a slot also its tail), and every owned row is written.
 * A row of D values is held as C = ⌈D/4⌉ vec4s (zeros past D), in arrays indexed only by constants (the loops over
 * C are unrolled here), so they stay in registers: a first version looped over D in f32 arrays, which lavapipe keeps
 * in per-lane scratch memory, and was several times slower.
 * Every invocation walks all rows of the other side (keys, or queries for dK/dV). Two variants bring them in:
 * - v1 `shared` (hardware adapters): tiles of TILE rows in workgroup memory, loaded by the whole workgroup between
 *   barriers. Not yet run on a hardware GPU.
 * - v2 `broadcast` (lavapipe, 8-lane subgroups): for each row, lane L loads chunks L, L + 8, … from the storage
 *   buffer and subgroupBroadcast hands each chunk to every lane; no workgroup memory, no barrier. lavapipe runs
 *   workgroup memory and barriers lane by lane and turns a per-lane load into a loop over the lanes
 *   (kernels/matmul/README.md; its v3 shares operands the same way). attention.bench.ts at the default model's shape
 *   (2026-12-02, loaded 2-core VM): forward 6–9 ms against v1's 20–21, backward 12–25 ms against 40–49. A training
 *   step of the default model (recordTrainingStep + sync, minimum of 8): 109–114 ms fused (v2) against 130–143 ms
 *   with `SelfAttention.fused = false`; v1 had been ~165 against ~136.
 * Both variants form the same sums in the same order; attention.test.ts checks both (on lavapipe) against the
 * reference.
 *
 * Forward (one pass over the keys, online softmax: Milakov & Gimelshein 2018): per key j, the score
 * s_j = (q·scale)·k_j + maskBias_j; when it passes the running max m, the sum l and the accumulator are rescaled to
 * it (a branch taken a few times per row); then l += exp(s_j − m) and acc += exp(s_j − m) · z_j · v_j, with z_j the
 * dropout factor (0 or 1/(1 − p)). The row's context is acc / l = Σ_j dropout(softmax(s))_j · v_j, and (m, l) are
 * saved for the backward.
 * Dropout: the mask of the unfused path's dropout on the (T, B, heads, S, S) probabilities, element for element
 * (kernels/dropout: block b·heads + h, row i = query, column j = key, Philox keyed by seed[t] and the call index),
 * through the same WGSL helpers (dropoutMaskWgsl). No mask is kept from the forward: the backward regenerates it.
 * Padding: maskBias (T, B, S) is added to the scores (−1e9 makes exp exactly 0 in f32), as the unfused path does.
 * Keys and query rows after a sequence's last unmasked key are skipped: such a query row's context is 0
 * (`keyCountWgsl`), where the unfused path computes a value nothing reads.
 *
 * Backward, with P = softmax(s), A = P ⊙ Z (the dropped-out probabilities), out = A·V and G = ∂loss/∂out:
 *   dV = Aᵀ G;  dA = G Vᵀ;  dS = P ⊙ (dA ⊙ Z − δ) with δ_i = Σ_j dA_ij A_ij = G_i · out_i;
 *   dq = scale · dS K;  dK = dSᵀ (q · scale).
 * Dispatch 1 (query rows) computes δ_i and dq, and regenerates the dropout mask row by row (a Philox call per 4
 * keys, like the forward), writing it as bits (T, B, heads, S, ⌈S/32⌉) for dispatch 2 (key rows), which computes dK
 * and dV: there each invocation owns a key, and regenerating would cost a Philox call per element instead of per 4.
 * P is recomputed from the saved (m, l): nothing of S × S floats is stored. Two dispatches because dq sums over
 * keys and dK, dV over queries, and WGSL has no float atomics to merge them in one.
 *
 * Specialised (wgslFor) by D, ROWS, TILE, the variant and whether dropout is on (evaluation runs no Philox code).
 * Limits: on a GPU the key/value backward holds 4·C vec4s per invocation (256 floats at D = 64) and will spill
 * registers there; one workgroup per (slot, sequence, head, 64 rows) gives the default model only 64 workgroups.
 */
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { range } from '../common.js';
import { dropoutInputsWgsl, dropoutMaskWgsl } from '../dropout/dropout.wgsl.js';

export interface AttentionSpec {
  /** Head size D. */
  headSize: number;
  /** Invocations per workgroup: rows (queries or keys) per workgroup. */
  rows: number;
  /** Rows of the other side per workgroup-memory tile; a multiple of 4 (a Philox call covers 4 keys). */
  tile: number;
  /** Training with dropout on the attention probabilities. */
  dropout: boolean;
  /**
   * null: the other side's rows go through workgroup-memory tiles (variant `shared`). A number (8, lavapipe's fixed
   * subgroup size): variant `broadcast`, where for each row of the other side lane L of a subgroup loads chunks
   * L, L + lanes, … from the storage buffer and subgroupBroadcast hands every chunk to every lane: no workgroup
   * memory, no barrier (both run lane by lane on lavapipe, and a per-lane load is a loop over the lanes there:
   * kernels/matmul/README.md, whose v3 shares operands the same way).
   */
  lanes: number | null;
}

/** Most negative finite f32: the start of a running max, so exp(start − x) is 0 rather than NaN. */
const LOWEST = '-3.402823466e+38';

/** vec4 chunks of a row of `headSize` values. */
export const chunksOf = (headSize: number) => Math.ceil(headSize / 4);

/** One WGSL statement per chunk c = 0 … C − 1 (unrolled: c is a constant in each). */
function perChunk(headSize: number, statement: (c: number) => string, separator = '\n  '): string {
  return range(chunksOf(headSize)).map(statement).join(separator);
}

/** Σ_c dot(a[c], b(c)) as one expression, in a fixed order (the same in every kernel). */
function dotRow(headSize: number, term: (c: number) => string): string {
  return range(chunksOf(headSize)).map(term).join(' + ');
}

/** Expression: chunk c of the row of `buffer` starting at `start`; components past D are 0. */
function rowChunk(buffer: string, start: string, c: number, headSize: number): string {
  return `vec4f(${range(4).map((n) => (4 * c + n < headSize ? `${buffer}[${start} + ${4 * c + n}u]` : '0.0')).join(', ')})`;
}

/** Statements: chunk c of `value` stored into the row of `buffer` starting at `start` (components < D only). */
function storeChunk(buffer: string, start: string, c: number, headSize: number, value: string): string {
  return range(4)
    .filter((n) => 4 * c + n < headSize)
    .map((n) => `${buffer}[${start} + ${4 * c + n}u] = ${value}.${'xyzw'[n]};`)
    .join(' ');
}

/** Parts of a row each lane loads in the broadcast variant: chunks lane + lanes · part. */
const partsOf = (spec: AttentionSpec) => Math.ceil(chunksOf(spec.headSize) / spec.lanes!);

/**
 * Chunk c of the other side's current row: from the tile (shared), or broadcast from the lane that loaded it.
 * `tile`/`index`: the workgroup array and row in it; `part`: the name of the lane's loaded parts.
 */
function otherChunk(spec: AttentionSpec, tile: string, index: string, part: string, c: number): string {
  if (spec.lanes === null) return `${tile}[${index} * C + ${c}u]`;
  return `subgroupBroadcast(${part}${Math.floor(c / spec.lanes)}, ${c % spec.lanes}u)`;
}

/** Broadcast variant: statements loading this lane's parts of the row of `buffer` at `start` as `${name}0`, …. */
function loadParts(spec: AttentionSpec, name: string, buffer: string, start: string, factor = ''): string {
  if (spec.lanes === null) return '';
  return range(partsOf(spec))
    .map((p) => {
      const e = `laneAt${p}`;
      const parts = range(4).map((n) => `${buffer}[${start} + min(${e} + ${n}u, D - 1u)]`).join(', ');
      return `let ${name}${p} = select(vec4f(0.0), vec4f(${parts})${factor}, inRow(${e}));`;
    })
    .join('\n      ');
}

/** Broadcast variant: the first element of each part this lane loads (declared once per kernel). */
function laneOffsets(spec: AttentionSpec): string {
  if (spec.lanes === null) return '';
  return range(partsOf(spec)).map((p) => `let laneAt${p} = (lane + ${p * spec.lanes!}u) * 4u;`).join('\n  ');
}

/** Header and entry point: the broadcast variant needs subgroups and the lane index. */
function entryPoint(spec: AttentionSpec): string {
  const lane = spec.lanes === null ? '' : ', @builtin(subgroup_invocation_id) lane: u32';
  return `@compute @workgroup_size(ROWS)
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_index) local: u32${lane}) {`;
}

/** Constants, Params and helpers shared by the three kernels. */
function common({ headSize, rows, tile, lanes }: AttentionSpec, directives: string, sequencesBinding: number): string {
  return /* wgsl */ `${lanes === null ? '' : 'enable subgroups;'}${directives}
const D = ${headSize}u;    // head size
const C = ${chunksOf(headSize)}u;     // vec4 chunks per row
const ROWS = ${rows}u;     // invocations per workgroup, one row each
const TILE = ${tile}u;     // rows of the other side per workgroup-memory tile
const LOWEST = ${LOWEST};
struct Params { batch: u32, heads: u32, seq: u32, hidden: u32, callOffset: u32, rowsPerSlot: u32, scale: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(${sequencesBinding}) var<storage, read> sequences: array<u32>; // (T, B, 2): first row in its slot, rows owned

// The workgroup's sequence: the row of its first token in the (T·rows, hidden) buffers, and how many rows it owns
// (its tokens, its padding rows, and in the packed layout the slot's tail after its last sequence: sequenceOf).
var<private> sequenceBase: u32;
var<private> owned: u32;
fn sequenceOf(t: u32, b: u32) {
  let at = 2u * (t * params.batch + b);
  sequenceBase = t * params.rowsPerSlot + sequences[at];
  owned = sequences[at + 1u];
}

// Start of row s of head h of the workgroup's sequence.
fn rowStart(s: u32, h: u32) -> u32 {
  return (sequenceBase + s) * params.hidden + h * D;
}

// Rows the grid covers per sequence, ⌈S / ROWS⌉ · ROWS: rows past it that a sequence owns (a packed slot's tail)
// are written by the invocation at their row mod this.
fn gridRows() -> u32 {
  return (params.seq + ROWS - 1u) / ROWS * ROWS;
}
// Which components of the chunk starting at element e are inside the row.
fn inRow(e: u32) -> vec4<bool> {
  return vec4u(e) + vec4u(0u, 1u, 2u, 3u) < vec4u(D);
}`;
}

/** Statements: the workgroup loads rows first … first + TILE − 1 of `sources` into `targets` (a copy of the last row past S). */
function loadTile(pairs: [target: string, source: string, factor: string][]): string {
  const chunk = (source: string) =>
    `vec4f(${range(4).map((n) => `${source}[rowAt + min(e + ${n}u, D - 1u)]`).join(', ')})`;
  return /* wgsl */ `
    for (var at = local; at < TILE * C; at += ROWS) {
      let rowAt = rowStart(min(first + at / C, keyCount - 1u), h); // past the visited rows: a copy of the last
      let e = (at % C) * 4u;
      ${pairs.map(([target, source, factor]) => `${target}[at] = select(vec4f(0.0), ${chunk(source)}${factor}, inRow(e));`).join('\n      ')}
    }`;
}

/**
 * Keys a query row visits: up to the sequence's last key with a bias above PADDING_BIAS (the model marks padding with
 * −1e9). Keys after it add exact zeros (exp of −1e9 below the row's max is 0, and 0 × a finite value adds nothing),
 * so leaving them out changes no bit, and a right-padded batch (a fused group's slots pad to the longest of all)
 * costs its real lengths. Query rows after it are padding too: they attend to nothing (context, dq and their share
 * of dK, dV are 0; the model never reads them: its pooler takes row 0, and later layers never visit them as keys),
 * so a row block of them skips the key loop. A sequence with no such key visits all S. The count is the same for
 * the whole workgroup (one sequence). Shared variant: one invocation scans and workgroupUniformLoad hands the count to all, so the tile
 * loop's barriers stay in uniform control flow. Broadcast variant: every invocation scans (a barrier costs lavapipe
 * far more than a few loads, kernels/matmul/README.md), and the subgroup_uniformity diagnostic, which cannot see that
 * the count is uniform, is turned off (`keyCountDirective`).
 */
function keyCountWgsl(spec: AttentionSpec): string {
  return /* wgsl */ `
const PADDING_BIAS = -1e8;
${spec.lanes === null ? 'var<workgroup> keyCountShared: u32;' : ''}
fn keysToVisit(maskAt: u32, S: u32) -> u32 {
  var n = S;
  while (n > 0u && maskBias[maskAt + n - 1u] <= PADDING_BIAS) { n--; }
  return select(n, S, n == 0u);
}`;
}

function keyCountSetup(spec: AttentionSpec): string {
  if (spec.lanes !== null) return '  let keyCount = keysToVisit(maskAt, S);';
  return /* wgsl */ `
  if (local == 0u) { keyCountShared = keysToVisit(maskAt, S); }
  let keyCount = workgroupUniformLoad(&keyCountShared);`;
}

/**
 * Keys a row block walks: keyCount, or none when all its rows come after the last visited key (padding rows, which
 * attend to nothing). Broadcast variant: per subgroup (its lanes share each key by subgroupBroadcast). Shared
 * variant: per workgroup, so that the tile loop's barriers stay in uniform control flow.
 */
function visitWgsl(spec: AttentionSpec, row: string): string {
  return spec.lanes === null ? 'select(0u, keyCount, group.x * ROWS < keyCount)' : `select(0u, keyCount, subgroupAny(${row} < keyCount))`;
}

/** Module directive of the three kernels, which bound their loops by keysToVisit, in the broadcast variant. */
const keyCountDirective = (spec: AttentionSpec) => (spec.lanes === null ? '' : '\ndiagnostic(off, subgroup_uniformity);');

/**
 * Statements: the rows a sequence owns past the grid's (index + gridRows(), + 2 · gridRows(), …: a packed slot's
 * tail after its last sequence) get zeros in `buffers`, so that no row of an output is left unwritten.
 */
function zeroTail(headSize: number, buffers: string[], index: string): string {
  const stores = buffers.map((buffer) => perChunk(headSize, (c) => storeChunk(buffer, 'at', c, headSize, 'vec4f(0.0)'), ' ')).join('\n    ');
  return `  for (var r = ${index} + gridRows(); r < owned; r += gridRows()) {
    let at = rowStart(r, h);
    ${stores}
  }`;
}

/** The per-slot dropout values every kernel that regenerates the mask needs. */
const dropoutSetup = /* wgsl */ `
  let p = clamp(probabilities[t], 0.0, 1.0); // outside [0, 1] means never / always, as in kernels/dropout
  let keptScale = dropoutScale(p);
  let call = dropoutCall(callBase[2u * t], callBase[2u * t + 1u], params.callOffset);
  let seed = seeds[t];
  var words: vec4u;`;


export function attentionForwardWgsl(spec: AttentionSpec): string {
  const D = spec.headSize;
  return wgsl`
${common(spec, keyCountDirective(spec), spec.dropout ? 10 : 7)}
@group(0) @binding(1) var<storage, read> q: array<f32>;                // (T·rows, hidden)
@group(0) @binding(2) var<storage, read> k: array<f32>;                // (T·rows, hidden)
@group(0) @binding(3) var<storage, read> v: array<f32>;                // (T·rows, hidden)
@group(0) @binding(4) var<storage, read> maskBias: array<f32>;         // (T, B, S): 0 token, −1e9 padding key
@group(0) @binding(5) var<storage, read_write> context: array<f32>;    // (T·rows, hidden)
@group(0) @binding(6) var<storage, read_write> stats: array<vec2f>;    // (T, B, heads, S): row max m, Σ exp(s − m)
#if ${spec.dropout}
${dropoutInputsWgsl(7)}
#endif
${spec.lanes !== null ? '' : /* wgsl */ `
var<workgroup> keys: array<vec4f, ${spec.tile * chunksOf(D)}>;   // (TILE, C)
var<workgroup> values: array<vec4f, ${spec.tile * chunksOf(D)}>; // (TILE, C)`}
${keyCountWgsl(spec)}

${entryPoint(spec)}
  ${laneOffsets(spec)}
  let S = params.seq;
  let t = group.z;
  let block = group.y; // b·heads + h: the dropout block of the (T, B, heads, S, S) probabilities
  let b = block / params.heads;
  let h = block % params.heads;
  let i = group.x * ROWS + local;
  sequenceOf(t, b);
  // Invocations past the last query redo it and skip only the stores: every invocation reaches every barrier.
  let row = min(i, min(S, owned) - 1u);
  let qAt = rowStart(row, h);
  var qs: array<vec4f, C>; // q · scale
  ${perChunk(D, (c) => `qs[${c}] = ${rowChunk('q', 'qAt', c, D)} * params.scale;`)}
  let maskAt = (t * params.batch + b) * S;
${keyCountSetup(spec)}
#if ${spec.dropout}
${dropoutSetup}
#endif
  var m = LOWEST;
  var l = 0.0;
  var acc: array<vec4f, C>;
  let visit = ${visitWgsl(spec, 'i')};
  for (var first = 0u; first < visit; first += TILE) {
${spec.lanes !== null ? '' : /* wgsl */ `
    workgroupBarrier(); // everyone is done with the previous tile
${loadTile([['keys', 'k', ''], ['values', 'v', '']])}
    workgroupBarrier();`}
    let count = min(TILE, visit - first);
    for (var jj = 0u; jj < count; jj++) {
      let j = first + jj;
      ${loadParts(spec, 'kPart', 'k', 'rowStart(j, h)')}
      ${loadParts(spec, 'vPart', 'v', 'rowStart(j, h)')}
      let score = ${dotRow(D, (c) => `dot(qs[${c}], ${otherChunk(spec, 'keys', 'jj', 'kPart', c)})`)} + maskBias[maskAt + j];
      if (score > m) {
        // A new max: rescale what was summed against the old one (exp(LOWEST − x) = 0 on the first key).
        let rescale = exp(m - score);
        l *= rescale;
        ${perChunk(D, (c) => `acc[${c}] *= rescale;`, ' ')}
        m = score;
      }
      let weight = exp(score - m);
      l += weight; // the softmax's denominator counts dropped keys too: dropout acts after the softmax
#if ${spec.dropout}
      // first is a multiple of TILE, itself a multiple of 4: a quad of keys starts at j % 4 == 0.
      if (j % 4u == 0u) { words = dropoutWords(j / 4u, row, block, call, seed); }
      let kept = select(0.0, weight * keptScale, dropoutKeeps(words[j % 4u], p));
#else
      let kept = weight;
#endif
      ${perChunk(D, (c) => `acc[${c}] += kept * ${otherChunk(spec, 'values', 'jj', 'vPart', c)};`, '\n      ')}
    }
  }
  // A row after the last visited key is padding: it attends to nothing (context 0), whatever it computed.
  let attends = i < keyCount;
  if (i < owned) { // row i itself: qAt is a clamped row's past S
    let inverse = 1.0 / l;
    let outAt = rowStart(i, h);
    ${perChunk(D, (c) => storeChunk('context', 'outAt', c, D, `select(vec4f(0.0), acc[${c}] * inverse, attends)`), '\n    ')}
  }
  if (i < S) { stats[(t * params.batch * params.heads + block) * S + i] = select(vec2f(0.0), vec2f(m, l), attends); }
${zeroTail(D, ['context'], 'i')}
}`;
}

/** Backward dispatch 1: per query row, δ_i = G_i · out_i and dq; with dropout, the row's keep bits. */
export function attentionBackwardQueryWgsl(spec: AttentionSpec): string {
  const D = spec.headSize;
  return wgsl`
${common(spec, keyCountDirective(spec), spec.dropout ? 14 : 10)}
@group(0) @binding(1) var<storage, read> q: array<f32>;                // (T·rows, hidden)
@group(0) @binding(2) var<storage, read> k: array<f32>;                // (T·rows, hidden)
@group(0) @binding(3) var<storage, read> v: array<f32>;                // (T·rows, hidden)
@group(0) @binding(4) var<storage, read> maskBias: array<f32>;         // (T, B, S)
@group(0) @binding(5) var<storage, read> context: array<f32>;          // (T·rows, hidden): the forward's output
@group(0) @binding(6) var<storage, read> gradContext: array<f32>;      // (T·rows, hidden)
@group(0) @binding(7) var<storage, read> stats: array<vec2f>;          // (T, B, heads, S): the forward's (m, l)
@group(0) @binding(8) var<storage, read_write> gradQuery: array<f32>;  // (T·rows, hidden)
@group(0) @binding(9) var<storage, read_write> delta: array<f32>;      // (T, B, heads, S): G_i · out_i
#if ${spec.dropout}
${dropoutInputsWgsl(10)}
@group(0) @binding(13) var<storage, read_write> keepBits: array<u32>;  // (T, B, heads, S, ⌈S/32⌉): bit j % 32 of word j / 32
#endif
${spec.lanes !== null ? '' : /* wgsl */ `
var<workgroup> keys: array<vec4f, ${spec.tile * chunksOf(D)}>;   // (TILE, C)
var<workgroup> values: array<vec4f, ${spec.tile * chunksOf(D)}>; // (TILE, C)`}
${keyCountWgsl(spec)}

${entryPoint(spec)}
  ${laneOffsets(spec)}
  let S = params.seq;
  let t = group.z;
  let block = group.y;
  let b = block / params.heads;
  let h = block % params.heads;
  let i = group.x * ROWS + local;
  sequenceOf(t, b);
  let row = min(i, min(S, owned) - 1u); // past the end: redo the last row, skip the stores
  let qAt = rowStart(row, h);
  var qs: array<vec4f, C>;
  var g: array<vec4f, C>;
  ${perChunk(D, (c) => `qs[${c}] = ${rowChunk('q', 'qAt', c, D)} * params.scale;`)}
  ${perChunk(D, (c) => `g[${c}] = ${rowChunk('gradContext', 'qAt', c, D)};`)}
  let rowDelta = ${dotRow(D, (c) => `dot(g[${c}], ${rowChunk('context', 'qAt', c, D)})`)};
  let statsRow = (t * params.batch * params.heads + block) * S; // the sequence's head's first row of stats
  let statsAt = statsRow + row;
  let rowStats = stats[statsAt];
  let inverse = 1.0 / rowStats.y;
  let maskAt = (t * params.batch + b) * S;
${keyCountSetup(spec)}
#if ${spec.dropout}
${dropoutSetup}
  let words32 = (S + 31u) / 32u;
  var bits = 0u;
#endif
  var gradScores: array<vec4f, C>; // Σ_j dS_ij k_j: the gradient of q · scale
  let visit = ${visitWgsl(spec, 'i')};
  for (var first = 0u; first < visit; first += TILE) {
${spec.lanes !== null ? '' : /* wgsl */ `
    workgroupBarrier();
${loadTile([['keys', 'k', ''], ['values', 'v', '']])}
    workgroupBarrier();`}
    let count = min(TILE, visit - first);
    for (var jj = 0u; jj < count; jj++) {
      let j = first + jj;
      ${loadParts(spec, 'kPart', 'k', 'rowStart(j, h)')}
      ${loadParts(spec, 'vPart', 'v', 'rowStart(j, h)')}
      let score = ${dotRow(D, (c) => `dot(qs[${c}], ${otherChunk(spec, 'keys', 'jj', 'kPart', c)})`)} + maskBias[maskAt + j];
      let gradKept = ${dotRow(D, (c) => `dot(g[${c}], ${otherChunk(spec, 'values', 'jj', 'vPart', c)})`)}; // dA_ij = G_i · v_j
      let probability = exp(score - rowStats.x) * inverse;
#if ${spec.dropout}
      if (j % 4u == 0u) { words = dropoutWords(j / 4u, row, block, call, seed); }
      let keeps = dropoutKeeps(words[j % 4u], p);
      bits |= select(0u, 1u << (j % 32u), keeps);
      // Words past the visited keys stay unwritten: dispatch 2 reads them only for keys whose probability is 0.
      if (j % 32u == 31u || j == keyCount - 1u) {
        if (i < keyCount) { keepBits[statsAt * words32 + j / 32u] = bits; } // dispatch 2 reads visited rows only
        bits = 0u;
      }
      let z = select(0.0, keptScale, keeps);
#else
      let z = 1.0;
#endif
      let gradScore = probability * (gradKept * z - rowDelta);
      ${perChunk(D, (c) => `gradScores[${c}] += gradScore * ${otherChunk(spec, 'keys', 'jj', 'kPart', c)};`, '\n      ')}
    }
  }
  let attends = i < keyCount; // a padding row's context is 0 whatever q is: dq 0
  if (i < owned) {
    let outAt = rowStart(i, h);
    ${perChunk(D, (c) => storeChunk('gradQuery', 'outAt', c, D, `select(vec4f(0.0), gradScores[${c}] * params.scale, attends)`), '\n    ')}
  }
  if (i < S) { delta[statsRow + i] = select(0.0, rowDelta, attends); }
${zeroTail(D, ['gradQuery'], 'i')}
}`;
}

/** Backward dispatch 2: per key row j, dK_j = Σ_i dS_ij (q_i · scale) and dV_j = Σ_i A_ij G_i. */
export function attentionBackwardKeyValueWgsl(spec: AttentionSpec): string {
  const D = spec.headSize;
  // Broadcast variant: a subgroup whose keys are all unvisited (keysToVisit) skips the loop, so a subgroup-uniform
  // branch holds the loop's broadcasts (the subgroup_uniformity diagnostic asks for workgroup uniformity).
  const broadcast = spec.lanes !== null;
  return wgsl`
${common(spec, keyCountDirective(spec), spec.dropout ? 12 : 10)}
@group(0) @binding(1) var<storage, read> q: array<f32>;                // (T·rows, hidden)
@group(0) @binding(2) var<storage, read> k: array<f32>;                // (T·rows, hidden)
@group(0) @binding(3) var<storage, read> v: array<f32>;                // (T·rows, hidden)
@group(0) @binding(4) var<storage, read> maskBias: array<f32>;         // (T, B, S)
@group(0) @binding(5) var<storage, read> gradContext: array<f32>;      // (T·rows, hidden)
@group(0) @binding(6) var<storage, read> stats: array<vec2f>;          // (T, B, heads, S): the forward's (m, l)
@group(0) @binding(7) var<storage, read> delta: array<f32>;            // (T, B, heads, S): from dispatch 1
@group(0) @binding(8) var<storage, read_write> gradKey: array<f32>;    // (T·rows, hidden)
@group(0) @binding(9) var<storage, read_write> gradValue: array<f32>;  // (T·rows, hidden)
#if ${spec.dropout}
@group(0) @binding(10) var<storage, read> probabilities: array<f32>;   // (T) drop probability per slot
@group(0) @binding(11) var<storage, read> keepBits: array<u32>;        // (T, B, heads, S, ⌈S/32⌉): from dispatch 1
${dropoutMaskWgsl}
#endif
${spec.lanes !== null ? '' : /* wgsl */ `
var<workgroup> queries: array<vec4f, ${spec.tile * chunksOf(D)}>; // (TILE, C): q · scale
var<workgroup> grads: array<vec4f, ${spec.tile * chunksOf(D)}>;   // (TILE, C): G
var<workgroup> rowStats: array<vec4f, TILE>;                      // (TILE): m, 1 / l, δ of each query row`}
${keyCountWgsl(spec)}

${entryPoint(spec)}
  ${laneOffsets(spec)}
  let S = params.seq;
  let t = group.z;
  let block = group.y;
  let b = block / params.heads;
  let h = block % params.heads;
  let j = group.x * ROWS + local;
  sequenceOf(t, b);
  let column = min(j, min(S, owned) - 1u); // this invocation's key; past the end: redo the last one, skip the stores
  let kAt = rowStart(column, h);
  var kj: array<vec4f, C>;
  var vj: array<vec4f, C>;
  ${perChunk(D, (c) => `kj[${c}] = ${rowChunk('k', 'kAt', c, D)};`)}
  ${perChunk(D, (c) => `vj[${c}] = ${rowChunk('v', 'kAt', c, D)};`)}
  let bias = maskBias[(t * params.batch + b) * S + column];
  let statsAt = (t * params.batch * params.heads + block) * S;
#if ${spec.dropout}
  let keptScale = dropoutScale(clamp(probabilities[t], 0.0, 1.0));
  let words32 = (S + 31u) / 32u;
#endif
  var gradK: array<vec4f, C>;
  var gradV: array<vec4f, C>;
  // Query rows after the last visited key attend to nothing: only the first keyCount rows add to dK and dV.
  let maskAt = (t * params.batch + b) * S;
${keyCountSetup(spec)}
${broadcast ? /* wgsl */ `
  // An unvisited key j (after the sequence's last unmasked one) has probability 0 in every row: its dK and dV sums
  // add only exact zeros, +0 from the +0 start. A subgroup of such keys writes that +0 without the loop.
  if (subgroupAny(j < keyCount)) {` : ''}
  for (var first = 0u; first < keyCount; first += TILE) {
${spec.lanes !== null ? '' : /* wgsl */ `
    workgroupBarrier();
${loadTile([['queries', 'q', ' * params.scale'], ['grads', 'gradContext', '']])}
    for (var at = local; at < TILE; at += ROWS) {
      let r = statsAt + min(first + at, S - 1u);
      rowStats[at] = vec4f(stats[r].x, 1.0 / stats[r].y, delta[r], 0.0);
    }
    workgroupBarrier();`}
    let count = min(TILE, keyCount - first);
    for (var ii = 0u; ii < count; ii++) {
      ${loadParts(spec, 'qPart', 'q', 'rowStart(first + ii, h)', ' * params.scale')}
      ${loadParts(spec, 'gPart', 'gradContext', 'rowStart(first + ii, h)')}
      let score = ${dotRow(D, (c) => `dot(${otherChunk(spec, 'queries', 'ii', 'qPart', c)}, kj[${c}])`)} + bias;
      let gradKept = ${dotRow(D, (c) => `dot(${otherChunk(spec, 'grads', 'ii', 'gPart', c)}, vj[${c}])`)}; // dA_ij = G_i · v_j
      ${spec.lanes === null ? 'let r = rowStats[ii];' : 'let r = vec4f(stats[statsAt + first + ii].x, 1.0 / stats[statsAt + first + ii].y, delta[statsAt + first + ii], 0.0);'}
      let probability = exp(score - r.x) * r.y;
#if ${spec.dropout}
      let word = keepBits[(statsAt + first + ii) * words32 + column / 32u];
      let z = select(0.0, keptScale, ((word >> (column % 32u)) & 1u) == 1u);
#else
      let z = 1.0;
#endif
      let kept = probability * z;
      let gradScore = probability * (gradKept * z - r.z);
      ${perChunk(D, (c) => `gradV[${c}] += kept * ${otherChunk(spec, 'grads', 'ii', 'gPart', c)};`, '\n      ')}
      ${perChunk(D, (c) => `gradK[${c}] += gradScore * ${otherChunk(spec, 'queries', 'ii', 'qPart', c)};`, '\n      ')}
    }
  }
${broadcast ? '  }' : ''}
  if (j < owned) {
    let visited = j < keyCount; // an unvisited key's sums are +0 (whatever its lanes computed beside visited ones)
    let outAt = rowStart(j, h);
    ${perChunk(D, (c) => storeChunk('gradKey', 'outAt', c, D, `select(vec4f(0.0), gradK[${c}], visited)`), '\n    ')}
    ${perChunk(D, (c) => storeChunk('gradValue', 'outAt', c, D, `select(vec4f(0.0), gradV[${c}], visited)`), '\n    ')}
  }
${zeroTail(D, ['gradKey', 'gradValue'], 'j')}
}`;
}
