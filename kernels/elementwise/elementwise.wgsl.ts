/**
 * Elementwise WGSL: unary maps, binary maps with broadcasting, and fill. One invocation per output element.
 *
 * Binary kernels are specialised by RANK (after axis merging, usually 1 or 2) so the index loop unrolls; the
 * `CONTIGUOUS` variant (both inputs the output's shape) skips index arithmetic. `INPLACE` updates `a` in place
 * (gradient accumulation) since WGSL forbids binding one buffer as both read and read-write.
 */
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { ELEMENTWISE_WORKGROUP, linearIndexWgsl, safeTanhWgsl } from '../common.js';

/** y = f(x); `alpha`, `beta` are per-call constants (affine: alpha*x+beta). */
export const UNARY_OPS = {
  neg: '-x',
  exp: 'exp(x)',
  log: 'log(x)',
  sqrt: 'sqrt(x)',
  relu: 'max(x, 0.0)',
  tanh: 'safeTanh(x)',
  // BERT's GELU, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
  gelu: '0.5 * x * (1.0 + safeTanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))',
  affine: 'params.alpha * x + params.beta',
} as const;

/** z = f(a, b). The *_grad forms are backward helpers: a = forward input/output, b = incoming gradient. */
export const BINARY_OPS = {
  add: 'a + b',
  // Broadcast copy: b is ignored (bind a twice).
  copy_a: 'a',
  sub: 'a - b',
  mul: 'a * b',
  div: 'a / b',
  // d tanh: b * (1 - y^2), with a = y = tanh(x).
  tanh_grad: 'b * (1.0 - a * a)',
  // d gelu/dx for the tanh form, a = x.
  gelu_grad: 'b * geluDerivative(a)',
  relu_grad: 'select(0.0, b, a > 0.0)',
  // max backward: b where a (the input) equals the broadcast max, written by the reduce op as (x - max).
  equal_zero_mask: 'select(0.0, b, a == 0.0)',
} as const;

export type UnaryOp = keyof typeof UNARY_OPS;
export type BinaryOp = keyof typeof BINARY_OPS;

const geluDerivativeWgsl = /* wgsl */ `
fn geluDerivative(x: f32) -> f32 {
  let inner = 0.7978845608028654 * (x + 0.044715 * x * x * x);
  let t = safeTanh(inner);
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * 0.7978845608028654 * (1.0 + 0.134145 * x * x);
}`;

export function unaryWgsl(op: UnaryOp): string {
  return wgsl`
struct Params { count: u32, alpha: f32, beta: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;   // (count)
@group(0) @binding(2) var<storage, read_write> output: array<f32>; // (count)
${linearIndexWgsl()}
${safeTanhWgsl()}

@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(group, local, groups);
  if (i >= params.count) { return; }
  let x = input[i];
  output[i] = ${UNARY_OPS[op]};
}`;
}

export interface BinaryVariant {
  op: BinaryOp;
  rank: number;
  contiguous: boolean;
  inplace: boolean;
}

export function binaryWgsl({ op, rank, contiguous, inplace }: BinaryVariant): string {
  const ranks = Math.ceil(rank / 4);
  return wgsl`
const RANK = ${rank}u;
struct Params {
  count: u32, pad0: u32, pad1: u32, pad2: u32,
  shape: array<vec4u, ${ranks}>,     // output shape, merged axes
  aStrides: array<vec4u, ${ranks}>,  // 0 along broadcast axes
  bStrides: array<vec4u, ${ranks}>,
}
@group(0) @binding(0) var<uniform> params: Params;
#if ${inplace}
@group(0) @binding(1) var<storage, read_write> aValues: array<f32>; // (count): a += b in place
@group(0) @binding(2) var<storage, read> bValues: array<f32>;
#else
@group(0) @binding(1) var<storage, read> aValues: array<f32>;
@group(0) @binding(2) var<storage, read> bValues: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>; // (count)
#endif
${linearIndexWgsl()}
${safeTanhWgsl()}
${op === 'gelu_grad' ? geluDerivativeWgsl : ''}

fn at(v: array<vec4u, ${ranks}>, axis: u32) -> u32 { return v[axis / 4u][axis % 4u]; }

@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(group, local, groups);
  if (i >= params.count) { return; }
#if ${contiguous}
  let a = aValues[i];
  let b = bValues[i];
#else
  var rest = i;
  var aIndex = 0u;
  var bIndex = 0u;
  for (var axis = i32(RANK) - 1; axis >= 0; axis--) {
    let size = at(params.shape, u32(axis));
    let coordinate = rest % size;
    rest = rest / size;
    aIndex += coordinate * at(params.aStrides, u32(axis));
    bIndex += coordinate * at(params.bStrides, u32(axis));
  }
  let a = aValues[aIndex];
  let b = bValues[bIndex];
#endif
#if ${inplace}
  aValues[i] = ${BINARY_OPS[op]};
#else
  output[i] = ${BINARY_OPS[op]};
#endif
}`;
}

export function fillWgsl(dtype: 'f32' | 'i32'): string {
  return wgsl`
struct Params { count: u32, value: ${dtype} }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> output: array<${dtype}>; // (count)
${linearIndexWgsl()}

@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(group, local, groups);
  if (i < params.count) { output[i] = params.value; }
}`;
}
