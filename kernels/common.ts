/**
 * Helpers shared by kernel launchers: dispatch grids for element counts beyond one dimension's 65,535 workgroups,
 * and the WGSL that turns a 2D grid back into a linear index.
 */
import { ShapeError } from '../src/gpu/errors.js';

export const ELEMENTWISE_WORKGROUP = 256;

/** Workgroups to cover `count` invocations in groups of `size`: a 2D grid once x would pass 65,535. */
export function gridFor(count: number, size = ELEMENTWISE_WORKGROUP): [number, number] {
  const groups = Math.ceil(count / size);
  if (groups <= 65535) return [groups, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}

/** WGSL: the linear invocation index across a 2D grid dispatched by `gridFor`. */
export function linearIndexWgsl(size = ELEMENTWISE_WORKGROUP): string {
  return /* wgsl */ `
fn linearIndex(group: vec3u, local: vec3u, groups: vec3u) -> u32 {
  return (group.y * groups.x + group.x) * ${size}u + local.x;
}`;
}

export function assertCount(kernel: string, count: number): void {
  if (!Number.isInteger(count) || count < 0 || count > 0xffffffff) {
    throw new ShapeError(`${kernel}: ${count} elements is out of range for a u32 index`);
  }
}

/**
 * WGSL tanh that stays finite for large |x| (some drivers overflow exp in the builtin), on f32 or componentwise on
 * vec4f (the same operations per component, so the same bits).
 */
export function safeTanhWgsl(type: 'f32' | 'vec4f' = 'f32'): string {
  return /* wgsl */ `
fn safeTanh(x: ${type}) -> ${type} {
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}`;
}

/** 0, 1, …, count − 1: the indices the WGSL generators unroll over. */
export function range(count: number): number[] {
  return [...Array(count).keys()];
}

const generatedWgsl = new WeakMap<object, Map<string, string>>();

/**
 * `generate(...args)`, built once per argument list and then reused: launchers run on every training step, and
 * building a shader's text (then hashing the new string in the pipeline cache) cost 5–16 µs per dispatch on the
 * development VM — a sizeable part of a small op on a real GPU, where per-op CPU cost bounds the step
 * (bench/RESULTS.md). `args` must be JSON values that fully determine the text.
 */
export function wgslFor<A extends unknown[]>(generate: (...args: A) => string, ...args: A): string {
  let cache = generatedWgsl.get(generate);
  if (!cache) generatedWgsl.set(generate, (cache = new Map()));
  const key = JSON.stringify(args);
  let text = cache.get(key);
  if (text === undefined) cache.set(key, (text = generate(...args)));
  return text;
}

/**
 * `load_<name>(start, quad) -> vec4f` and `store_<name>(start, quad, value)` for a row of `params.hidden` values
 * starting at `start` (in lanes), as the row kernels that fuse LayerNorm read and write them
 * (kernels/residual-layernorm, kernels/embeddings-layernorm): with vec4 one access; else up to 4 scalar accesses,
 * 0 past the row's end; `validLanes(quad)` says which of a quad's lanes are in the row.
 */
export function quadAccessWgsl(vec4: boolean, loads: string[], stores: string[]): string {
  const load = (name: string) =>
    vec4
      ? `fn load_${name}(start: u32, quad: u32) -> vec4f { return ${name}[start + quad]; }`
      : `fn load_${name}(start: u32, quad: u32) -> vec4f {
  var v = vec4f(0.0);
  for (var lane = 0u; lane < 4u; lane++) {
    let j = quad * 4u + lane;
    if (j < params.hidden) { v[lane] = ${name}[start + j]; }
  }
  return v;
}`;
  const store = (name: string) =>
    vec4
      ? `fn store_${name}(start: u32, quad: u32, value: vec4f) { ${name}[start + quad] = value; }`
      : `fn store_${name}(start: u32, quad: u32, value: vec4f) {
  for (var lane = 0u; lane < 4u; lane++) {
    let j = quad * 4u + lane;
    if (j < params.hidden) { ${name}[start + j] = value[lane]; }
  }
}`;
  const valid = vec4
    ? 'fn validLanes(quad: u32) -> vec4<bool> { return vec4<bool>(true); }'
    : 'fn validLanes(quad: u32) -> vec4<bool> { return vec4u(quad * 4u) + vec4u(0u, 1u, 2u, 3u) < vec4u(params.hidden); }';
  return [...loads.map(load), ...stores.map(store), valid].join('\n');
}
