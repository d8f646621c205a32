/**
 * FMA ceiling probe: the multiply-add rate this device can actually reach from WGSL, the yardstick for matmul's
 * GFLOP/s. Each invocation runs 16 independent chains (four vec4 chains, so enough independent work to hide the
 * FMA latency on any backend) of `a = fma(a, multiplier, addend)`; the loop body is unrolled UNROLL times so the
 * loop's own compare-and-branch is a small share. The multiplier and addend come from a uniform, so the compiler
 * cannot fold the chains; every chain is summed into the invocation's output, so none is dead code, and the
 * harness reads the output back and checks it against a CPU computation of the same chains (probes.ts).
 *
 * On lavapipe `fma()` compiles to a separate multiply and add (PEERS.md): this is then a mul+add ceiling, which is
 * also what a matmul kernel gets there. FLOPs counted: 2 per scalar multiply-add.
 */
import { linearIndexWgsl } from '../../kernels/common.js';

export const FMA_WORKGROUP = 256;
/** Scalar chains per invocation: four vec4 accumulators. */
export const FMA_CHAINS = 16;
/** Multiply-add steps written out per loop iteration. */
export const FMA_UNROLL = 4;

export function fmaProbeWgsl(): string {
  const step = '    a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);';
  return /* wgsl */ `
struct Params { count: u32, loops: u32, multiplier: f32, addend: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> output: array<f32>; // (count): sum of each invocation's chains
${linearIndexWgsl(FMA_WORKGROUP)}

@compute @workgroup_size(${FMA_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(group, local, groups);
  // Start values differ per invocation and chain, so no two chains are provably equal.
  let seed = f32(i % 1024u) * (1.0 / 1024.0);
  var a0 = vec4f(seed, seed + 0.25, seed + 0.5, seed + 0.75);
  var a1 = a0 + 1.0;
  var a2 = a0 + 2.0;
  var a3 = a0 + 3.0;
  let m = vec4f(params.multiplier);
  let c = vec4f(params.addend);
  // Uniform trip count, no early exit: lavapipe masks divergent loops (PEERS.md).
  for (var n = 0u; n < params.loops; n++) {
${Array.from({ length: FMA_UNROLL }, () => step).join('\n')}
  }
  let s = (a0 + a1) + (a2 + a3);
  if (i < params.count) {
    output[i] = (s.x + s.y) + (s.z + s.w);
  }
}`;
}
