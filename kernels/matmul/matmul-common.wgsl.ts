/**
 * WGSL shared by every matmul variant: the uniform parameters, the buffer bindings and the epilogue (bias, BERT's
 * tanh GELU, optional pre-activation store). Each variant file writes only its main loop; the layout of A and B
 * (transposed or not) is a WGSL constant, and a broadcast operand is a batch stride of 0, so the trial axis and
 * plain batches are one code path.
 */
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { safeTanhWgsl } from '../common.js';

/** What every variant is specialised on (shapes and batch strides stay uniform parameters). */
export interface MatmulSpec {
  transposeA: boolean;
  transposeB: boolean;
  bias: boolean;
  gelu: boolean;
  /** Write the value before GELU too (backward needs it). Only with `gelu`. */
  preActivation: boolean;
  /**
   * out += A·B instead of out = A·B (no bias, no GELU): a gradient added into the one already there, in the same
   * operation autograd's accumulation does (old + product), so the same bits with one dispatch fewer.
   */
  accumulate?: boolean;
}

/** Uniform fields in packing order (all u32): see `launchMatmul` in matmul.ts. */
export const PARAMS_FIELDS = /* wgsl */ `m: u32, k: u32, n: u32,
  aBatchStride: u32,    // m*k, or 0 when A is one matrix shared by every batch
  bBatchStride: u32,    // k*n, or 0 when shared
  biasBatchStride: u32, // n when the bias has a batch (trial) axis, else 0`;

export const PARAMS_STRUCT = /* wgsl */ `
struct Params {
  ${PARAMS_FIELDS}
}`;

/**
 * Bindings: params, a, b, out, then bias and preActivation when the spec has them. `aType`/`bType` are `f32` or
 * `vec4f` (vec4 bindings are used by variants that load 4 contiguous values at once).
 */
export function bindingsWgsl(spec: MatmulSpec, aType = 'f32', bType = 'f32'): string {
  return `
${PARAMS_STRUCT}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<${aType}>; // (batch|1, m, k), or (batch|1, k, m) transposed
@group(0) @binding(2) var<storage, read> b: array<${bType}>; // (batch|1, k, n), or (batch|1, n, k) transposed
${outputBindingsWgsl(spec)}`;
}

/**
 * Bindings `first` on: out, then bias and preActivation when the spec has them (for variants that bind A and B
 * their own way); `type` 'vec4f' for `storeOutput4`.
 */
export function outputBindingsWgsl(spec: MatmulSpec, type = 'f32', first = 3): string {
  const biasBinding = first + 1;
  const preBinding = spec.bias ? first + 2 : first + 1;
  return wgsl`
@group(0) @binding(${first}) var<storage, read_write> out: array<${type}>; // (batch, m, n)
#if ${spec.bias}
@group(0) @binding(${biasBinding}) var<storage, read> bias: array<${type}>; // (batch|1, n)
#endif
#if ${spec.preActivation}
@group(0) @binding(${preBinding}) var<storage, read_write> preActivation: array<${type}>; // (batch, m, n)
#endif
`;
}

/**
 * `storeOutput(batch, row, col, acc)`: bounds guard, bias, GELU (or accumulation), stores; called once per output
 * element. With
 * `vec4` (outputs bound as vec4s, n % 4 = 0): `storeOutput4(batch, row, col0, acc)` stores columns col0..col0+3 at
 * once (one store instead of four: on lavapipe each store is a loop over the lanes). Both compute each value with
 * the same operations, so they give the same bits.
 */
export function epilogueWgsl(spec: MatmulSpec, vec4 = false): string {
  const T = vec4 ? 'vec4f' : 'f32';
  const guard = vec4 ? 'col0 >= params.n' : 'col >= params.n';
  const column = vec4 ? 'col0' : 'col';
  const index = vec4 ? `((batchIndex * params.m + row) * params.n + col0) / 4u` : '(batchIndex * params.m + row) * params.n + col';
  const biasIndex = vec4 ? '(batchIndex * params.biasBatchStride + col0) / 4u' : 'batchIndex * params.biasBatchStride + col';
  return wgsl`
#if ${spec.gelu}
${safeTanhWgsl(T)}
fn gelu(x: ${T}) -> ${T} {
  return 0.5 * x * (1.0 + safeTanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}
#endif

fn ${vec4 ? 'storeOutput4' : 'storeOutput'}(batchIndex: u32, row: u32, ${column}: u32, acc: ${T}) {
  if (row >= params.m || ${guard}) { return; }
  let index = ${index};
#if ${spec.bias}
  let value = acc + bias[${biasIndex}];
#else
  let value = acc;
#endif
#if ${spec.preActivation}
  preActivation[index] = value;
#endif
#if ${spec.gelu}
  out[index] = gelu(value);
#elif ${spec.accumulate === true}
  out[index] = out[index] + value;
#else
  out[index] = value;
#endif
}
`;
}

/**
 * Scalar element accessors aAt(base, row, kk) and bAt(base, kk, col) for the spec's layouts (each only when its
 * operand is bound as scalars).
 */
export function accessorsWgsl(spec: MatmulSpec, scalarA = true, scalarB = true): string {
  const aIndex = spec.transposeA ? 'kk * params.m + row' : 'row * params.k + kk';
  const bIndex = spec.transposeB ? 'col * params.k + kk' : 'kk * params.n + col';
  return [
    scalarA ? `fn aAt(base: u32, row: u32, kk: u32) -> f32 { return a[base + ${aIndex}]; }` : '',
    scalarB ? `fn bAt(base: u32, kk: u32, col: u32) -> f32 { return b[base + ${bIndex}]; }` : '',
  ].join('\n');
}
