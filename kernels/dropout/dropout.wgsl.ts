/**
 * Inverted dropout WGSL with a counter-based mask (Philox-4x32-10, see philox.ts): no mask is stored, and the
 * backward runs this same kernel on the incoming gradient, regenerating the same mask.
 *
 * Stream layout: key = (seed[slot], slot), counter = (quad, call mod 2^32, call / 2^32, 0), where quad =
 * element-in-slot / 4 (the call index grows with the step, so it may pass 2^32). One invocation makes one Philox
 * call and uses its four words for four consecutive elements of its slot: element e of slot s in call c is kept iff
 * uniform(word[e % 4] of philox((e / 4, c mod 2^32, c / 2^32, 0), (seed[s], s))) ≥ p[s], with
 * uniform(w) = (w >> 8) / 2^24: exact in f32, so the CPU twin decides identically. p ≤ 0 keeps everything
 * (identity), p ≥ 1 drops everything (zeros). Kept values are scaled by 1 / (1 − p).
 * Ships v1: 10 Philox rounds (~40 integer multiplies) per 4 elements is cheap next to the loads on every adapter.
 */
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { ELEMENTWISE_WORKGROUP, linearIndexWgsl } from '../common.js';
import { philoxWgsl } from './philox.js';

export function dropoutWgsl(): string {
  return wgsl`
struct Params { quadsPerSlot: u32, elementsPerSlot: u32, slots: u32, callLow: u32, callHigh: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;          // (T, ...elementsPerSlot)
@group(0) @binding(2) var<storage, read> seeds: array<u32>;          // (T) seed per slot (i32 bits)
@group(0) @binding(3) var<storage, read> probabilities: array<f32>;  // (T) drop probability per slot
@group(0) @binding(4) var<storage, read_write> output: array<f32>;   // (T, ...elementsPerSlot)
${linearIndexWgsl()}
${philoxWgsl}

@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let q = linearIndex(group, local, groups);
  if (q >= params.quadsPerSlot * params.slots) { return; }
  let slot = q / params.quadsPerSlot;
  let quad = q % params.quadsPerSlot;
  let p = clamp(probabilities[slot], 0.0, 1.0); // outside [0, 1] means never / always
  let words = philox4x32_10(vec4u(quad, params.callLow, params.callHigh, 0u), vec2u(seeds[slot], slot));
  let scale = select(1.0 / (1.0 - p), 0.0, p >= 1.0);
  for (var lane = 0u; lane < 4u; lane++) {
    let e = quad * 4u + lane;
    if (e < params.elementsPerSlot) {
      let i = slot * params.elementsPerSlot + e;
      let uniform = f32(words[lane] >> 8u) * (1.0 / 16777216.0);
      output[i] = select(0.0, input[i] * scale, uniform >= p);
    }
  }
}`;
}
