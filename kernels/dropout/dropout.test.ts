/**
 * Dropout: Philox against Random123's known answers (CPU and GPU), the GPU mask against the CPU mask bit for bit,
 * values and gradients against the float64 reference, keep rates within binomial bounds, p = 0 / 1, per-slot rates,
 * determinism, bad shapes.
 */
import { describe, expect, it } from 'vitest';
import { tensor } from '../../src/tensor/create.js';
import { ShapeError } from '../../src/gpu/errors.js';
import { backward } from '../../src/tensor/autograd.js';
import { dropout, tanhDropout } from '../../src/tensor/ops/dropout.js';
import { tanh } from '../../src/tensor/ops/elementwise.js';
import { launchDropout } from './dropout.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { expectClose } from '../../test/helpers/compare.js';
import { checkForwardAndGradients } from '../../test/helpers/gradcheck.js';
import { useDevice } from '../../test/helpers/gpu.js';
import { randomArray } from '../../test/helpers/random.js';
import { philox4x32, philoxWgsl } from './philox.js';
import { dropoutMaskReference, dropoutReference } from './reference.js';

const device = useDevice();

// Random123 kat_vectors, philox4x32 10: counter (4 words), key (2 words), expected (4 words).
const knownAnswers: [number[], number[], number[]][] = [
  [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
  [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
  [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
];

function run(x: Tensor, seeds: number[], probabilities: number[], callIndex: number): Tensor {
  const d = device();
  const s = tensor(d, Int32Array.from(seeds), [seeds.length]);
  const p = tensor(d, Float32Array.from(probabilities), [probabilities.length]);
  const out = dropout(x, { seeds: s, probabilities: p, callIndex, slots: seeds.length, training: true });
  s.release();
  p.release();
  return out;
}

describe('philox4x32-10', () => {
  it('CPU matches the Random123 known answers', () => {
    for (const [counter, key, expected] of knownAnswers) expect(Array.from(philox4x32(counter, key))).toEqual(expected);
  });

  it('GPU matches the Random123 known answers', async () => {
    const d = device();
    const input = d.allocate(knownAnswers.length * 6 * 4, 'kat input');
    d.write(input, Uint32Array.from(knownAnswers.flatMap(([c, k]) => [...c, ...k])));
    const output = d.allocate(knownAnswers.length * 16, 'kat output');
    d.dispatch({
      kernel: 'philox_kat',
      wgsl: `${philoxWgsl}
@group(0) @binding(0) var<storage, read> input: array<u32>;        // (vectors, 6): counter, key
@group(0) @binding(1) var<storage, read_write> output: array<vec4u>; // (vectors)
@compute @workgroup_size(1)
fn main(@builtin(workgroup_id) group: vec3u) {
  let b = group.x * 6u;
  output[group.x] = philox4x32_10(vec4u(input[b], input[b + 1u], input[b + 2u], input[b + 3u]), vec2u(input[b + 4u], input[b + 5u]));
}`,
      buffers: [input, output],
      workgroups: [knownAnswers.length],
      shapes: `vectors=${knownAnswers.length}`,
    });
    const words = new Uint32Array(await d.read(output, knownAnswers.length * 16));
    expect(Array.from(words)).toEqual(knownAnswers.flatMap(([, , e]) => e));
    d.release(input);
    d.release(output);
  });
});

describe('dropout', () => {
  const seeds = [1, 12345, -7];
  const probabilities = [0.1, 0.5, 0.9];

  // A call index past 2^32 uses the counter's third word.
  it.each([42, 2 ** 32 + 5])('GPU mask equals the CPU mask bit for bit, with per-slot rates and odd sizes (call %i)', async (call) => {
    const shape = [3, 7, 147]; // 1029 values per slot: not a multiple of 4
    const data = randomArray(3 * 1029, 5, 0.5, 1.5); // never 0, so out == 0 exactly where dropped
    const x = tensor(device(), data, shape);
    const out = await run(x, seeds, probabilities, call).toArray();
    const keep = dropoutMaskReference(seeds, probabilities, [7, 147], call);
    const gpuKeep = Uint8Array.from(out, (v) => (v !== 0 ? 1 : 0));
    expect(Buffer.from(gpuKeep).equals(Buffer.from(keep))).toBe(true);
    expectClose(out, dropoutReference(data, seeds, probabilities, call, [7, 147]), 1e-6, 'dropout values');
    x.release();
  });

  // A training step writes its base once; each site adds its number on the GPU, carrying into the high word.
  it.each([
    [[7, 0], 9, 7 + 9],
    [[2 ** 32 - 2, 1], 5, 2 * 2 ** 32 + 3], // low word overflows: carry into the high word
  ])('a call base (%j) plus an offset (%i) draws the mask of call %i', async (base, offset, call) => {
    const d = device();
    const x = tensor(d, randomArray(3 * 2 * 9, 8, 0.5, 1.5), [3, 2, 9]);
    const s = tensor(d, Int32Array.from(seeds), [3]);
    const p = tensor(d, Float32Array.from(probabilities), [3]);
    const callBase = tensor(d, Int32Array.from([...base, ...base, ...base]), [3, 2]);
    const out = await dropout(x, { seeds: s, probabilities: p, callBase, callIndex: offset, slots: 3, training: true }).toArray();
    const keep = dropoutMaskReference(seeds, probabilities, [2, 9], call);
    expect(Array.from(out, (v) => (v !== 0 ? 1 : 0))).toEqual(Array.from(keep));
    for (const t of [x, s, p, callBase]) t.release();
  });

  // A refilled slot's trial starts again at step 0: each slot reads its own base, so its masks are its alone.
  it('each slot draws from its own call base', async () => {
    const d = device();
    const bases = [[40, 0], [7, 0], [2 ** 32 - 1, 3]];
    const x = tensor(d, randomArray(3 * 2 * 9, 8, 0.5, 1.5), [3, 2, 9]);
    const s = tensor(d, Int32Array.from(seeds), [3]);
    const p = tensor(d, Float32Array.from(probabilities), [3]);
    const callBase = tensor(d, Int32Array.from(bases.flat()), [3, 2]);
    const out = await dropout(x, { seeds: s, probabilities: p, callBase, callIndex: 2, slots: 3, training: true }).toArray();
    for (let slot = 0; slot < 3; slot++) {
      const call = bases[slot][0] + bases[slot][1] * 2 ** 32 + 2;
      const keep = dropoutMaskReference([seeds[slot]], [probabilities[slot]], [2, 9], call);
      expect(Array.from(out.subarray(slot * 18, (slot + 1) * 18), (v) => (v !== 0 ? 1 : 0)), `slot ${slot}`).toEqual(Array.from(keep));
    }
    for (const t of [x, s, p, callBase]) t.release();
  });

  it('padding does not move a value\'s mask: (B, S, H) and (B, heads, S, S) padded to longer S', async () => {
    // A fused group pads every slot to the longest sequence among the slots; a trial alone pads to its own.
    for (const [short, long] of [
      [[2, 3, 6], [2, 5, 6]], // (B, S, H): S 3 → 5
      [[2, 2, 3, 3], [2, 2, 5, 5]], // (B, heads, S, S): both S axes 3 → 5
    ]) {
      const masks = [short, long].map((shape) => dropoutMaskReference([7], [0.5], shape, 11));
      const gpu = await Promise.all(
        [short, long].map(async (shape) => {
          const count = shape.reduce((a, b) => a * b, 1);
          const x = tensor(device(), new Float32Array(count).fill(1), [1, ...shape]);
          const out = await run(x, [7], [0.5], 11).toArray();
          x.release();
          return Uint8Array.from(out, (v) => (v !== 0 ? 1 : 0));
        }),
      );
      // Element (…, i, j) of the short shape against the same coordinates in the long one.
      const [rows, cols] = short.slice(-2);
      const [longRows, longCols] = long.slice(-2);
      const blocks = short.slice(0, -2).reduce((a, b) => a * b, 1);
      for (let b = 0; b < blocks; b++) {
        for (let i = 0; i < rows; i++) {
          for (let j = 0; j < cols; j++) {
            const at = (b * rows + i) * cols + j;
            const atLong = (b * longRows + i) * longCols + j;
            expect(masks[1][atLong], `reference ${short} → ${long} at ${b},${i},${j}`).toBe(masks[0][at]);
            expect(gpu[1][atLong], `gpu ${short} → ${long} at ${b},${i},${j}`).toBe(masks[0][at]);
            expect(gpu[0][at]).toBe(masks[0][at]);
          }
        }
      }
    }
  });

  it('forward and gradient against the reference (mask regenerated in backward)', async () => {
    const d = device();
    const s = tensor(d, Int32Array.from([3, 4]), [2]);
    const p = tensor(d, Float32Array.from([0.25, 0.6]), [2]);
    await checkForwardAndGradients(d, {
      what: 'dropout',
      inputs: [{ shape: [2, 5, 7] }],
      gpu: ([x]) => dropout(x, { seeds: s, probabilities: p, callIndex: 9, slots: 2, training: true }),
      reference: ([x]) => dropoutReference(x, [3, 4], [0.25, 0.6], 9, [5, 7]),
    });
    s.release();
    p.release();
  });

  it('keep rates stay within binomial bounds and kept values are scaled by 1/(1-p)', async () => {
    const n = 65536;
    const rates = [0.3, 0.7];
    const x = tensor(device(), new Float32Array(2 * n).fill(1), [2, n]);
    const out = await run(x, [2024, 2025], rates, 0).toArray();
    rates.forEach((p, slot) => {
      const scale = Math.fround(1 / (1 - Math.fround(p)));
      let kept = 0;
      let wrongScale = 0;
      for (let i = slot * n; i < (slot + 1) * n; i++) {
        if (out[i] !== 0) kept++;
        if (out[i] !== 0 && out[i] !== scale) wrongScale++;
      }
      expect(wrongScale).toBe(0);
      const mean = n * (1 - p);
      const sigma = Math.sqrt(n * p * (1 - p));
      expect(Math.abs(kept - mean)).toBeLessThan(5 * sigma);
    });
    x.release();
  });

  it('p = 0 is the identity and p = 1 gives zeros', async () => {
    const data = randomArray(2 * 33, 8);
    const x = tensor(device(), data, [2, 33]);
    const out = await run(x, [5, 6], [0, 1], 3).toArray();
    expect(Array.from(out.subarray(0, 33))).toEqual(Array.from(data.subarray(0, 33)));
    expect(Array.from(out.subarray(33)).every((v) => v === 0)).toBe(true);
    x.release();
  });

  it('repeats bit for bit; another call index or seed draws another mask', async () => {
    const data = randomArray(3 * 257, 9, 0.5, 1.5);
    const x = tensor(device(), data, [3, 257]);
    const a = await run(x, seeds, [0.5, 0.5, 0.5], 7).toArray();
    const b = await run(x, seeds, [0.5, 0.5, 0.5], 7).toArray();
    const c = await run(x, seeds, [0.5, 0.5, 0.5], 8).toArray();
    const e = await run(x, [1, 1, 1], [0.5, 0.5, 0.5], 7).toArray();
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).toBe(false);
    // The same seed in every slot draws the same mask in every slot: a trial's masks depend on its seed, not on
    // which slot of a fused group it got (so it matches its own single run), and another seed draws another mask.
    const keptIn = (values: ArrayLike<number>, slot: number) => Array.from({ length: 257 }, (_, i) => (values[slot * 257 + i] ? 1 : 0));
    expect(keptIn(e, 1)).toEqual(keptIn(e, 0));
    expect(keptIn(e, 2)).toEqual(keptIn(e, 0));
    expect(keptIn(a, 1)).not.toEqual(keptIn(e, 1));
    x.release();
  });

  it('is the identity in evaluation and checks its arguments', () => {
    const d = device();
    const x = tensor(d, new Float32Array(6), [2, 3]);
    const s = tensor(d, Int32Array.from([1, 2]), [2]);
    const p = tensor(d, Float32Array.from([0.1, 0.1]), [2]);
    expect(dropout(x, { seeds: s, probabilities: p, callIndex: 0, slots: 2, training: false })).toBe(x);
    expect(() => dropout(x, { seeds: s, probabilities: p, callIndex: 0, slots: 3, training: true })).toThrow(/lead with slots/);
    expect(() => dropout(x, { seeds: p, probabilities: p, callIndex: 0, slots: 2, training: true })).toThrow(ShapeError);
    expect(() => dropout(x, { seeds: s, probabilities: p, callIndex: -1, slots: 2, training: true })).toThrow(/callIndex -1/);
    expect(() => dropout(x, { seeds: s, probabilities: p, callIndex: 2 ** 53, slots: 2, training: true })).toThrow(ShapeError);
    for (const t of [x, s, p]) t.release();
  });
});

describe('dropout with tanh (the pooler)', () => {
  it('tanhDropout gives the bits of tanh then dropout, forward and backward, with large inputs finite', async () => {
    const d = device();
    const shape = [3, 4, 9];
    const data = randomArray(108, 41, -4, 4);
    data[0] = 60;
    data[1] = -60;
    const s = tensor(d, Int32Array.from([7, 8, 9]), [3]);
    const p = tensor(d, Float32Array.from([0.1, 0.5, 0]), [3]);
    const options = { seeds: s, probabilities: p, callIndex: 5, slots: 3, training: true };
    const g = randomArray(108, 42, -1, 1);
    const pass = async (fused: boolean) => {
      const x = tensor(d, data, shape, { requiresGrad: true });
      const out = fused ? tanhDropout(x, options) : dropout(tanh(x), options);
      const values = (await out.toArray()) as Float32Array;
      backward(out, { gradient: tensor(d, g, shape) });
      const grad = (await x.grad!.toArray()) as Float32Array;
      x.release();
      out.release();
      return { values, grad };
    };
    const fused = await pass(true);
    const separate = await pass(false);
    expect(Buffer.from(fused.values.buffer).equals(Buffer.from(separate.values.buffer))).toBe(true);
    expect(Buffer.from(fused.grad.buffer).equals(Buffer.from(separate.grad.buffer))).toBe(true);
    expect(Array.from(fused.values).every(Number.isFinite)).toBe(true);
    // Independent of the composition: the float64 reference of dropout(tanh(x)).
    expectClose(fused.values, dropoutReference(Float64Array.from(data, Math.tanh), [7, 8, 9], [0.1, 0.5, 0], 5, [4, 9]), 1e-6, 'values');
    s.release();
    p.release();
  });

  it('tanh_grad takes exactly one pre buffer', () => {
    const d = device();
    const b = [0, 1, 2, 3, 4].map(() => d.allocate(64, 'buffer'));
    const launch = { input: b[0], output: b[1], seeds: b[2], probabilities: b[3], callBase: b[4], slots: 1, slotShape: [4], callOffset: 0 };
    expect(() => launchDropout(d, { ...launch, activation: 'tanh_grad' })).toThrow(/'tanh_grad' needs a pre buffer/);
    expect(() => launchDropout(d, { ...launch, activation: 'tanh', pre: b[0] })).toThrow(/'tanh' takes no pre buffer/);
    for (const buffer of b) d.release(buffer);
  });
});
